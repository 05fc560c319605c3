import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { ExternalIdParams, UserIdParams } from '../customers/customer.schema.js';
import { adminAuth, adminRetailerOf, appAuth, bodyRetailerOf, principalOf } from '../http/auth.js';
import { adminErrors, ErrorRef } from '../http/envelope.js';
import type { RouteDeps } from '../http/route-deps.js';
import {
  createBehaviour,
  deleteBehaviour,
  getBehaviour,
  listBehaviours,
  updateBehaviour,
} from './behaviour-admin.service.js';
import {
  AdminBehaviourResponse,
  AdminBehavioursResponse,
  BehaviourBody,
  BehaviourParams,
  CampaignEventsBody,
  CampaignEventsResponse,
  TriggerEventBody,
  TriggerEventResponse,
  looseBoolean,
} from './behaviour.schema.js';
import { campaignEvents, triggerUserEvent } from './behaviour.service.js';

/**
 * `POST /incentives/api/1.0|2.0/user_events/trigger_user_event` (reference §5, issue #14 item 8):
 * one member event, processed against the program's behaviours.
 */
export const behaviourIncentiveRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async (
  app,
  { db, clock, verifier },
) => {
  app.addHook('onRequest', appAuth(verifier));

  app.post(
    '/user_events/trigger_user_event',
    {
      schema: {
        tags: ['Behaviours'],
        summary: "A member event: applies the outcomes of the program's behaviours of that name",
        body: TriggerEventBody,
        response: {
          200: TriggerEventResponse,
          400: ErrorRef,
          401: ErrorRef,
          403: ErrorRef,
          404: ErrorRef,
          409: ErrorRef,
          413: ErrorRef,
        },
      },
    },
    async (request) => {
      const retailerId = bodyRetailerOf(request);
      const b = request.body;
      const payload = await triggerUserEvent(
        db,
        retailerId,
        { user_id: b.user_id, user_id_type: b.user_id_type },
        {
          event: b.event_lookup,
          source: 'trigger_user_event',
          campaignId: null,
          isSessionM: looseBoolean(b.is_session_m),
        },
        b.idempotency_id === undefined ? null : { id: b.idempotency_id, body: b },
        await clock.now(),
      );
      return { status: 'ok' as const, payload };
    },
  );
};

const adminTags = ['Admin'];

/**
 * Behaviours through the admin API (issue #14 item 8): list, read, create, change, remove. Every
 * change is a new program version, answered with its number.
 */
export const behaviourAdminRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async (
  app,
  { db, clock, verifier },
) => {
  app.addHook('onRequest', adminAuth(verifier));

  app.get(
    '/behaviours',
    {
      schema: {
        tags: adminTags,
        summary: 'The behaviours of the program in force now',
        response: { 200: AdminBehavioursResponse, ...adminErrors },
      },
    },
    async (request) => ({
      status: 'ok' as const,
      ...(await listBehaviours(db, adminRetailerOf(request), await clock.now())),
    }),
  );

  app.get(
    '/behaviours/:behaviour_id',
    {
      schema: {
        tags: adminTags,
        summary: 'One behaviour of the program in force now',
        params: BehaviourParams,
        response: { 200: AdminBehaviourResponse, ...adminErrors },
      },
    },
    async (request) => ({
      status: 'ok' as const,
      ...(await getBehaviour(db, adminRetailerOf(request), request.params.behaviour_id, await clock.now())),
    }),
  );

  app.post(
    '/behaviours',
    {
      schema: {
        tags: adminTags,
        summary: 'Create a behaviour: a new program version from now; one per event (and campaign)',
        body: BehaviourBody,
        response: { 200: AdminBehaviourResponse, ...adminErrors },
      },
    },
    async (request) => ({
      status: 'ok' as const,
      ...(await createBehaviour(db, adminRetailerOf(request), request.body.behaviour, await clock.now())),
    }),
  );

  app.put(
    '/behaviours/:behaviour_id',
    {
      schema: {
        tags: adminTags,
        summary: 'Change a behaviour (the whole behaviour): a new program version from now',
        params: BehaviourParams,
        body: BehaviourBody,
        response: { 200: AdminBehaviourResponse, ...adminErrors },
      },
    },
    async (request) => ({
      status: 'ok' as const,
      ...(await updateBehaviour(
        db,
        adminRetailerOf(request),
        request.params.behaviour_id,
        request.body.behaviour,
        await clock.now(),
      )),
    }),
  );

  app.delete(
    '/behaviours/:behaviour_id',
    {
      schema: {
        tags: adminTags,
        summary: 'Remove a behaviour from now (a new program version); its events then apply nothing from it',
        params: BehaviourParams,
        response: { 200: AdminBehaviourResponse, ...adminErrors },
      },
    },
    async (request) => ({
      status: 'ok' as const,
      ...(await deleteBehaviour(
        db,
        adminRetailerOf(request),
        request.params.behaviour_id,
        await clock.now(),
      )),
    }),
  );
};

const CampaignIdParam = {
  campaign_id: Type.String({ description: 'The campaign id (a UUID).' }),
};
const UserCampaignParams = Type.Object({ ...UserIdParams.properties, ...CampaignIdParam });
const ExternalCampaignParams = Type.Object({ ...ExternalIdParams.properties, ...CampaignIdParam });

/**
 * Core's campaign events (reference §7, issue #14 item 9): `{"events": {"<name>": count}}` for a
 * member, by id or external id, feeding the behaviours of those names.
 */
export const behaviourCoreRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async (
  app,
  { db, clock, verifier },
) => {
  app.addHook('onRequest', appAuth(verifier));
  const schema = {
    tags: ['Behaviours'],
    summary: "A member's events in a campaign: each occurrence applies the behaviours of its name",
    body: CampaignEventsBody,
    response: { 200: CampaignEventsResponse, 400: ErrorRef, 401: ErrorRef, 404: ErrorRef, 413: ErrorRef },
  };

  app.post(
    '/users/:user_id/campaigns/:campaign_id/events',
    { schema: { ...schema, params: UserCampaignParams } },
    async (request) => {
      const { retailer_id } = principalOf(request);
      const p = request.params;
      return {
        status: 'ok' as const,
        ...(await campaignEvents(
          db,
          retailer_id,
          { user_id: p.user_id },
          p.campaign_id,
          request.body.events,
          await clock.now(),
        )),
      };
    },
  );

  app.post(
    '/external/users/:external_id/campaigns/:campaign_id/events',
    { schema: { ...schema, params: ExternalCampaignParams } },
    async (request) => {
      const { retailer_id } = principalOf(request);
      const p = request.params;
      return {
        status: 'ok' as const,
        ...(await campaignEvents(
          db,
          retailer_id,
          { user_id: p.external_id, user_id_type: 'external_id' },
          p.campaign_id,
          request.body.events,
          await clock.now(),
        )),
      };
    },
  );
};
