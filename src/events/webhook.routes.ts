import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { adminAuth, adminRetailerOf } from '../http/auth.js';
import { adminErrors } from '../http/envelope.js';
import type { RouteDeps } from '../http/route-deps.js';
import { SecretBox } from './secret-box.js';
import {
  CreatedWebhookResponse,
  DeletedResponse,
  DeliveriesQuery,
  DeliveriesResponse,
  ReplayBody,
  ReplayResponse,
  WebhookBody,
  WebhookParams,
  WebhookResponse,
  WebhooksResponse,
} from './webhook.schema.js';
import {
  createWebhook,
  deleteWebhook,
  getWebhookRow,
  listWebhooks,
  replayWebhook,
  webhookDeliveries,
  webhookView,
} from './webhook.service.js';

const tags = ['Admin'];

/** Webhooks through the admin API (issue #17, docs/events.md), per retailer. */
export const webhookAdminRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async (
  app,
  { db, clock, verifier, giftCardKey },
) => {
  app.addHook('onRequest', adminAuth(verifier));
  const box = new SecretBox(giftCardKey);

  app.post(
    '/webhooks',
    {
      schema: {
        tags,
        summary: 'Create a webhook; the answer shows its signing secret once',
        body: WebhookBody,
        response: { 200: CreatedWebhookResponse, ...adminErrors },
      },
    },
    async (request) => ({
      status: 'ok' as const,
      webhook: await createWebhook(
        db,
        box,
        adminRetailerOf(request),
        request.body.webhook,
        await clock.now(),
      ),
    }),
  );

  app.get(
    '/webhooks',
    {
      schema: {
        tags,
        summary: "The retailer's webhooks",
        response: { 200: WebhooksResponse, ...adminErrors },
      },
    },
    async (request) => ({
      status: 'ok' as const,
      webhooks: await listWebhooks(db, adminRetailerOf(request)),
    }),
  );

  app.get(
    '/webhooks/:webhook_id',
    {
      schema: {
        tags,
        summary: 'One webhook (without its secret)',
        params: WebhookParams,
        response: { 200: WebhookResponse, ...adminErrors },
      },
    },
    async (request) => ({
      status: 'ok' as const,
      webhook: webhookView(await getWebhookRow(db, adminRetailerOf(request), request.params.webhook_id)),
    }),
  );

  app.delete(
    '/webhooks/:webhook_id',
    {
      schema: {
        tags,
        summary: 'Delete a webhook: it hears nothing more and its pending deliveries fail',
        params: WebhookParams,
        response: { 200: DeletedResponse, ...adminErrors },
      },
    },
    async (request) => {
      await deleteWebhook(db, adminRetailerOf(request), request.params.webhook_id, await clock.now());
      return { status: 'ok' as const };
    },
  );

  app.get(
    '/webhooks/:webhook_id/deliveries',
    {
      schema: {
        tags,
        summary: "A webhook's deliveries, newest first: attempts, last status code, last error, next attempt",
        params: WebhookParams,
        querystring: DeliveriesQuery,
        response: { 200: DeliveriesResponse, ...adminErrors },
      },
    },
    async (request) => ({
      status: 'ok' as const,
      deliveries: await webhookDeliveries(
        db,
        adminRetailerOf(request),
        request.params.webhook_id,
        request.query.status,
        request.query.limit ?? 100,
      ),
    }),
  );

  app.post(
    '/webhooks/:webhook_id/replay',
    {
      schema: {
        tags,
        summary: 'Send again every event created since an instant that the webhook hears',
        params: WebhookParams,
        body: ReplayBody,
        response: { 200: ReplayResponse, ...adminErrors },
      },
    },
    async (request) => ({
      status: 'ok' as const,
      queued: await replayWebhook(
        db,
        adminRetailerOf(request),
        request.params.webhook_id,
        request.body.since,
        new Date(),
      ),
    }),
  );
};
