import type { RouteDeps } from '../http/route-deps.js';
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { appAuth, bodyRetailerOf, principalOf } from '../http/auth.js';
import { ErrorRef, OkStatus } from '../http/envelope.js';
import { moveUser } from './tier.service.js';

const MoveUserBody = Type.Object(
  {
    retailer_id: Type.String({ maxLength: 64, description: "Must be the app's retailer." }),
    tier_system_id: Type.String({
      maxLength: 64,
      description: "The program's tier system id; any other is a validation error.",
    }),
    tier_level_id: Type.String({ maxLength: 64, description: 'The level of that tier system to move to.' }),
    user_id: Type.String({
      maxLength: 64,
      description: "Laurel's user id of the member, who must be enrolled (opted in).",
    }),
    process_intermediate_levels: Type.Optional(
      Type.Boolean({ description: 'Accepted for SessionM compatibility and ignored.' }),
    ),
    evaluate_qualifying_rules: Type.Optional(
      Type.Boolean({ description: 'Accepted for SessionM compatibility and ignored.' }),
    ),
    culture: Type.Optional(
      Type.String({ maxLength: 16, description: 'Accepted for SessionM compatibility and ignored.' }),
    ),
    reason: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 500,
        description: 'Why, for the audit; defaults to "move_user".',
      }),
    ),
  },
  { additionalProperties: true },
);

const MoveUserResponse = Type.Object({
  status: OkStatus,
  payload: Type.Object(
    {
      user_id: Type.String({ description: "The member's user id." }),
      tier_system_id: Type.String({ description: "The program's tier system id." }),
      tier_level_id: Type.String({ description: 'The level the member was moved to.' }),
      tier: Type.String({ description: "That level's name." }),
      effective_at: Type.String({ description: 'ISO-8601, UTC.' }),
      resets_at: Type.Union([Type.String(), Type.Null()], {
        description: "The level's own expiry from the move.",
      }),
      move_id: Type.String({ description: "The move's id (a UUID), as the member's tier history shows it." }),
    },
    { description: 'The move as recorded.' },
  ),
});

/** `POST /incentives/api/1.0/movement/move_user` (reference §5): a manual, audited tier move. */
export const tierRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async (app, { db, clock, verifier }) => {
  app.addHook('onRequest', appAuth(verifier));

  app.post(
    '/movement/move_user',
    {
      schema: {
        tags: ['Tiers'],
        summary: "Move a member to a tier level; it holds until that level's own expiry",
        body: MoveUserBody,
        response: { 200: MoveUserResponse, 400: ErrorRef, 401: ErrorRef, 403: ErrorRef, 404: ErrorRef },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      const retailerId = bodyRetailerOf(request);
      const body = request.body;
      const { move, level, resets_at } = await moveUser(
        db,
        {
          retailerId,
          userId: body.user_id,
          tierSystemId: body.tier_system_id,
          tierLevelId: body.tier_level_id,
          actor: `app:${principal.api_key}`,
          reason: body.reason ?? 'move_user',
        },
        await clock.now(),
      );
      return {
        status: 'ok' as const,
        payload: {
          user_id: move.user_id,
          tier_system_id: move.tier_system_id,
          tier_level_id: move.tier_level_id,
          tier: level.name,
          effective_at: move.effective_at.toISOString(),
          resets_at: resets_at ? resets_at.toISOString() : null,
          move_id: move.id,
        },
      };
    },
  );
};
