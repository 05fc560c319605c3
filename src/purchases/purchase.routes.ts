import type { RouteDeps } from '../http/route-deps.js';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { appAuth, principalOf } from '../http/auth.js';
import { ErrorRef } from '../http/envelope.js';
import { SendTransactionBody, SendTransactionResponse } from './purchase.schema.js';
import { sendTransaction } from './purchase.service.js';

const errors = { 400: ErrorRef, 401: ErrorRef, 409: ErrorRef, 413: ErrorRef };

/** The POS API (reference §6): `POST /api/2.0/send_transaction`, Basic credentials of an app. */
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
      const payload = await sendTransaction(db, retailer_id, request.body, await clock.now());
      return { status: 'OK' as const, payload };
    },
  );
};
