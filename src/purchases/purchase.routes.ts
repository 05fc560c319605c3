import type { RouteDeps } from '../http/route-deps.js';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { appAuth, principalOf } from '../http/auth.js';
import { ErrorRef } from '../http/envelope.js';
import { SendTransactionBody, SendTransactionResponse } from './purchase.schema.js';
import { sendTransactionBatched } from './purchase.service.js';
import { LookupBody, LookupResponse } from './lookup.schema.js';
import { lookupMember } from './lookup.service.js';

const errors = { 400: ErrorRef, 401: ErrorRef, 409: ErrorRef, 413: ErrorRef };
const lookupErrors = { 400: ErrorRef, 401: ErrorRef, 404: ErrorRef, 413: ErrorRef };

/** The POS API (reference §6): `send_transaction` and `lookup` under `/api/2.0`, Basic credentials of an app. */
export const purchaseRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async (app, { db, clock, verifier }) => {
  app.addHook('onRequest', appAuth(verifier));

  app.post(
    '/send_transaction',
    {
      schema: {
        tags: ['POS'],
        summary: 'Send a purchase; re-send the same transaction_id changed for a return, edit or void',
        body: SendTransactionBody,
        response: { 200: SendTransactionResponse, ...errors },
      },
    },
    async (request) => {
      const { retailer_id } = principalOf(request);
      const payload = await sendTransactionBatched(db, retailer_id, request.body, await clock.now());
      return { status: 'OK' as const, payload };
    },
  );

  app.post(
    '/lookup',
    {
      schema: {
        tags: ['POS'],
        summary:
          'Look a member up by email, phone, user_id, external_customer_id or a sent transaction: the profile and balances as the till reads them',
        body: LookupBody,
        response: { 200: LookupResponse, ...lookupErrors },
      },
    },
    async (request) => {
      const { retailer_id } = principalOf(request);
      const payload = await lookupMember(db, retailer_id, request.body.request_payload, await clock.now());
      return { status: 'OK' as const, payload };
    },
  );
};
