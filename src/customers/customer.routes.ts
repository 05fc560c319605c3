import type { RouteDeps } from '../http/route-deps.js';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { ErrorRef } from '../http/envelope.js';
import { appAuth, principalOf } from '../http/auth.js';
import { memberStandingAt, tierHistoryAt } from '../tiers/tier.service.js';
import { coreTime } from '../domain/time.js';
import { getProgramAt } from '../program/program.service.js';
import type { UserRow } from './customer.repository.js';
import type { ProgramDocument } from '../domain/program.js';
import type { MemberStanding } from '../domain/loyalty-view.js';
import type { Identifier } from '../domain/profile.js';
import {
  ApiKeyParams,
  ExternalIdParams,
  MultiGetQuery,
  OkResponse,
  SearchQuery,
  TagsBody,
  TagsResponse,
  TierHistoryResponse,
  UserBody,
  UserIdParams,
  UserProfileBody,
  UserProfileResponse,
  UserQuery,
  UserResponse,
  UsersResponse,
} from './customer.schema.js';
import {
  addTags,
  createUserWithStanding,
  deleteUser,
  getTags,
  getUser,
  getUserStanding,
  getUsers,
  listIdentifiers,
  searchStanding,
  setCustomAttributes,
  updateUser,
  type UserRef,
} from './customer.service.js';
import { toWireTag, toWireUser, toWireUserProfile, type UserViewFlags } from './customer.view.js';

const isTrue = (v: string | undefined): boolean => v === 'true' || v === '1';
const flagsOf = (q: UserQuery): UserViewFlags => ({
  user_profile: isTrue(q['user[user_profile]']),
  expand_incentives: isTrue(q.expand_incentives),
  show_identifiers: isTrue(q.show_identifiers),
});

/**
 * Create and update answers always carry `user_profile` and `identifiers`, as SessionM's create
 * does, whatever the query flags: clients read them from the write's answer (issue #14 item 10).
 */
const writeFlagsOf = (q: UserQuery): UserViewFlags => ({
  ...flagsOf(q),
  user_profile: true,
  show_identifiers: true,
});

const errors = {
  400: ErrorRef,
  401: ErrorRef,
  404: ErrorRef,
  409: ErrorRef,
  413: ErrorRef,
};
const tags = ['Customers'];

/** The Customer Profile API under `/priv/v1/apps/:api_key` (reference §3, issue #2). */
export const customerRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async (app, opts) => {
  const { db, clock } = opts;
  app.addHook('onRequest', appAuth(opts.verifier));

  /** Renders users the way every write and multi-get answers: the program in force now, flags applied. */
  async function render(retailerId: string, rows: UserRow[], flags: UserViewFlags, now?: Date) {
    const at = now ?? (await clock.now());
    const program = await getProgramAt(db, retailerId, at);
    return Promise.all(
      rows.map(async (row) => {
        // Independent reads: on PostgreSQL they go out together instead of one after the other.
        const [identifiers, standing] = await Promise.all([
          flags.show_identifiers ? listIdentifiers(db, row.id) : undefined,
          memberStandingAt(db, program, row, at),
        ]);
        return toWireUser(row, program, flags, identifiers, standing);
      }),
    );
  }
  const renderOne = async (retailerId: string, row: UserRow, flags: UserViewFlags, now?: Date) =>
    (await render(retailerId, [row], flags, now))[0]!;

  /** Renders a member read with the program and standing (issue #15: the read's one round trip). */
  async function renderRead(
    found: { row: UserRow; program: ProgramDocument; standing: MemberStanding; identifiers?: Identifier[] },
    flags: UserViewFlags,
  ) {
    const identifiers = flags.show_identifiers
      ? (found.identifiers ?? (await listIdentifiers(db, found.row.id)))
      : undefined;
    return toWireUser(found.row, found.program, flags, identifiers, found.standing);
  }

  const byId = (p: { user_id: string }): UserRef => ({ id: p.user_id });
  const byExternal = (p: { external_id: string }): UserRef => ({ external_id: p.external_id });

  app.post(
    '/users',
    {
      schema: {
        tags,
        summary: 'Create a profile',
        params: ApiKeyParams,
        querystring: UserQuery,
        body: UserBody,
        response: { 200: UserResponse, ...errors },
      },
    },
    async (request) => {
      const { retailer_id, api_key } = principalOf(request);
      const now = await clock.now();
      const created = await createUserWithStanding(db, retailer_id, request.body.user, now, {
        actor: `app:${api_key}`,
      });
      return { status: 'ok' as const, user: await renderRead(created, writeFlagsOf(request.query)) };
    },
  );

  app.get(
    '/users/search',
    {
      schema: {
        tags,
        summary: 'Find one profile by email, external id or mobile number (exact match)',
        params: ApiKeyParams,
        querystring: SearchQuery,
        response: { 200: UserResponse, ...errors },
      },
    },
    async (request) => {
      const { retailer_id } = principalOf(request);
      const found = await searchStanding(db, retailer_id, request.query, await clock.now());
      return { status: 'ok' as const, user: await renderRead(found, flagsOf(request.query)) };
    },
  );

  app.get(
    '/users',
    {
      schema: {
        tags,
        summary: 'Get several profiles by id (`user_ids[]`, up to 100); unknown ids are left out',
        params: ApiKeyParams,
        querystring: MultiGetQuery,
        response: { 200: UsersResponse, ...errors },
      },
    },
    async (request) => {
      const { retailer_id } = principalOf(request);
      const raw = request.query['user_ids[]'];
      const ids = raw === undefined ? [] : Array.isArray(raw) ? raw : [raw];
      const rows = await getUsers(db, retailer_id, ids);
      return { status: 'ok' as const, users: await render(retailer_id, rows, flagsOf(request.query)) };
    },
  );

  for (const [path, params, ref] of [
    ['/users/:user_id', UserIdParams, byId],
    ['/external/users/:external_id', ExternalIdParams, byExternal],
  ] as const) {
    const by = path.startsWith('/external') ? 'external id' : 'id';

    app.get(
      path,
      {
        schema: {
          tags,
          summary: `Get a profile by ${by}`,
          params,
          querystring: UserQuery,
          response: { 200: UserResponse, ...errors },
        },
      },
      async (request) => {
        const { retailer_id } = principalOf(request);
        const at = await clock.now();
        const found = await getUserStanding(db, retailer_id, ref(request.params as never), at);
        return { status: 'ok' as const, user: await renderRead(found, flagsOf(request.query)) };
      },
    );

    app.put(
      path,
      {
        schema: {
          tags,
          summary: `Update a profile by ${by} (fields partial, arrays replaced, null clears)`,
          params,
          querystring: UserQuery,
          body: UserBody,
          response: { 200: UserResponse, ...errors },
        },
      },
      async (request) => {
        const { retailer_id, api_key } = principalOf(request);
        const now = await clock.now();
        const row = await updateUser(
          db,
          retailer_id,
          ref(request.params as never),
          request.body.user,
          now,
          `app:${api_key}`,
        );
        return {
          status: 'ok' as const,
          user: await renderOne(retailer_id, row, writeFlagsOf(request.query), now),
        };
      },
    );

    // POST and PUT alike: SessionM documents POST, clients in the field send PUT (issue #14 item 2).
    // Both answer SessionM's recorded shape, the attributes with their version, not the whole user.
    for (const method of ['post', 'put'] as const) {
      app[method](
        `${path}/models/user_profile`,
        {
          schema: {
            tags,
            summary: `Create or update custom attributes of a profile by ${by}`,
            params,
            body: UserProfileBody,
            response: { 200: UserProfileResponse, ...errors },
          },
        },
        async (request) => {
          const { retailer_id } = principalOf(request);
          const row = await setCustomAttributes(
            db,
            retailer_id,
            ref(request.params as never),
            request.body.user_profile,
            await clock.now(),
          );
          return { status: 'ok' as const, user_profile: toWireUserProfile(row) };
        },
      );
    }

    app.post(
      `${path}/tags`,
      {
        schema: {
          tags,
          summary: `Add tags to a profile by ${by}: counters, or expiring with ttl`,
          params,
          body: TagsBody,
          response: { 200: TagsResponse, ...errors },
        },
      },
      async (request) => {
        const { retailer_id } = principalOf(request);
        const now = await clock.now();
        const rows = await addTags(
          db,
          retailer_id,
          ref(request.params as never),
          request.body.tags,
          request.body.ttl,
          now,
        );
        return { status: 'ok' as const, tags: rows.map(toWireTag) };
      },
    );

    app.get(
      `${path}/tier_history`,
      {
        schema: {
          tags,
          summary: `Every tier change of a profile by ${by}, with its time, cause and reason (Laurel's extension)`,
          params,
          response: { 200: TierHistoryResponse, ...errors },
        },
      },
      async (request) => {
        const { retailer_id } = principalOf(request);
        const row = await getUser(db, retailer_id, ref(request.params as never));
        const now = await clock.now();
        const program = await getProgramAt(db, retailer_id, now);
        const history = await tierHistoryAt(db, program, row, now);
        return {
          status: 'ok' as const,
          tier_history: history.map((h) => ({ ...h, at: coreTime(h.at) })),
        };
      },
    );

    app.get(
      `${path}/tags`,
      {
        schema: {
          tags,
          summary: `List the live tags of a profile by ${by}`,
          params,
          response: { 200: TagsResponse, ...errors },
        },
      },
      async (request) => {
        const { retailer_id } = principalOf(request);
        const rows = await getTags(db, retailer_id, ref(request.params as never), await clock.now());
        return { status: 'ok' as const, tags: rows.map(toWireTag) };
      },
    );
  }

  app.delete(
    '/users/:user_id',
    {
      schema: {
        tags,
        summary: 'Delete a profile: personal data erased, then user_not_found everywhere',
        params: UserIdParams,
        response: { 200: OkResponse, ...errors },
      },
    },
    async (request) => {
      const { retailer_id, api_key } = principalOf(request);
      await deleteUser(db, retailer_id, byId(request.params), await clock.now(), `app:${api_key}`);
      return { status: 'ok' as const };
    },
  );
};
