import { groupCommitOf } from './ledger/group-commit.js';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyServerOptions } from 'fastify';
import swagger from '@fastify/swagger';
import type { FastifyPluginAsyncTypebox, TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import { clockRoutes } from './admin/clock.routes.js';
import {
  behaviourAdminRoutes,
  behaviourCoreRoutes,
  behaviourIncentiveRoutes,
} from './behaviours/behaviour.routes.js';
import { campaignAdminRoutes, campaignCoreRoutes } from './campaigns/campaign.routes.js';
import type { Clock } from './clock.js';
import { cashOutAdminRoutes, giftCardRoutes } from './cashout/cashout.routes.js';
import { consoleRoutes } from './console/console.routes.js';
import { customerRoutes } from './customers/customer.routes.js';
import { incentivesRoutes } from './incentives/incentives.routes.js';
import { purchaseRoutes } from './purchases/purchase.routes.js';
import { programRoutes } from './program/program.routes.js';
import { tierRoutes } from './tiers/tier.routes.js';
import { webhookAdminRoutes } from './events/webhook.routes.js';
import { ProgramSchema } from './program/program.schema.js';
import { User } from './customers/customer.schema.js';
import type { Database } from './db/database.js';
import { ErrorResponse, errorBody } from './http/envelope.js';
import { renderReference, type OpenApiDocument } from './docs/reference.js';
import { registerErrorHandling } from './http/error-handler.js';
import { registerMetrics, type WorkerMetrics } from './http/metrics.js';
import { notReadyReason } from './db/migrate.js';
import { LaurelError } from './errors.js';
import type { RouteDeps } from './http/route-deps.js';
import { CredentialVerifier, listenForRevocations } from './tenancy/tenancy.service.js';
import { FailedAuthLimiter, type AuthLimits } from './http/auth-limiter.js';
import type { TrustProxy } from './config.js';
import { writeClientError } from './http/client-error.js';

export interface AppOptions {
  db: Database;
  clock: Clock;
  logger?: FastifyServerOptions['logger'];
  /** Largest accepted request body in bytes (default 1 MiB); larger answers 413. */
  bodyLimit?: number;
  /** The key gift-card codes derive from (src/cashout/gift-card-key.ts). */
  giftCardKey: Buffer;
  /** Limits of failed authentications per key and per address (default DEFAULT_AUTH_LIMITS). */
  authLimits?: AuthLimits;
  /** Whose `X-Forwarded-*` headers to believe (`LAUREL_TRUST_PROXY`, src/config.ts); none by default. */
  trustProxy?: TrustProxy;
  /** When set, `GET /metrics` needs `Authorization: Bearer <metricsToken>` (`LAUREL_METRICS_TOKEN`). */
  metricsToken?: string;
  /**
   * Hear revocations from every process on the database and refuse a revoked credential at once
   * (issue #18); servers do, tests that build many apps need not hold a listening connection each.
   */
  listenForRevocations?: boolean;
  /** Set in a worker of `serve --workers N`: its slot, and the metrics of every worker (src/cluster/). */
  worker?: WorkerMetrics;
}

export const VERSION = '0.1.0';

/** Schemas referenced by `$ref` from routes; each becomes a named OpenAPI component. */
const SHARED_SCHEMAS = [ErrorResponse, User, ProgramSchema];

/**
 * Body validation does not coerce types: a number where a string belongs is an error, not a
 * silent conversion. Query strings and path parameters are text on the wire and are coerced.
 */
function validators() {
  const base = { allErrors: false, useDefaults: true, removeAdditional: false as const, strict: false };
  const body = new Ajv({ ...base, coerceTypes: false });
  const query = new Ajv({ ...base, coerceTypes: 'array' });
  for (const ajv of [body, query]) {
    addFormats.default(ajv);
    // Our own compilers do not see fastify.addSchema: give them the shared schemas bodies refer to.
    for (const schema of SHARED_SCHEMAS) ajv.addSchema(schema);
  }
  return { body, query };
}

/** Builds the server without listening, so tests drive it with inject() (CONVENTIONS). */
export async function buildApp(opts: AppOptions): Promise<FastifyInstance> {
  const app = Fastify({
    logger: opts.logger ?? false,
    bodyLimit: opts.bodyLimit ?? 1024 * 1024,
    onProtoPoisoning: 'error',
    trustProxy: opts.trustProxy ?? false,
    // Requests Node's parser refuses (headers over its limit) answer in the envelope too.
    clientErrorHandler: writeClientError,
    // Requests that arrive while the server closes answer our own 503 envelope (below), not Fastify's.
    return503OnClosing: false,
    onConstructorPoisoning: 'error',
    // Clients in the field write `.../users/` and `.../users/?user_ids[]=...` (issue #14 item 1):
    // a trailing slash names the same route, never an empty path parameter.
    routerOptions: { maxParamLength: 500, ignoreTrailingSlash: true },
    // Errors raised before routing (a path that is not valid UTF-8, a parameter too long) answer in
    // the envelope too, never Fastify's own shape.
    frameworkErrors: (err, _request, reply) => {
      const status = err.code === 'FST_ERR_BAD_URL' || !err.statusCode ? 400 : err.statusCode;
      const code = status === 404 ? 'not_found' : status === 414 ? 'uri_too_long' : 'validation';
      void (reply as FastifyReply).code(status).send(errorBody(code, err.message));
    },
  }).withTypeProvider<TypeBoxTypeProvider>();

  // The group commit asks once whether the database is one server or Citus (issue #15): before the
  // first request, so no request pays for it. A database not answering yet is asked again later.
  try {
    await groupCommitOf(opts.db).oneServer();
  } catch {
    // Asked again by the first batch.
  }

  const ajv = validators();
  app.setValidatorCompiler(({ schema, httpPart }) =>
    (httpPart === 'body' ? ajv.body : ajv.query).compile(schema as object),
  );
  app.decorateRequest('appPrincipal', undefined);
  app.decorateRequest('adminPrincipal', undefined);
  registerErrorHandling(app);
  // Graceful shutdown (issue #7): once closing starts, a request that still arrives on an open
  // connection answers 503 in the envelope with Retry-After and closes its connection; requests
  // already running finish before the database closes.
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onRequest', async (_request, reply) => {
    if (!closing) return;
    reply.header('connection', 'close');
    throw new LaurelError('service_unavailable', 'The server is shutting down; retry shortly.', {
      retry_after: 1,
    });
  });
  // Bodies are JSON: text/plain is refused with 415 rather than parsed as a string.
  app.removeContentTypeParser('text/plain');
  // A body that is not valid UTF-8 is refused with 400, never read with U+FFFD in place of its
  // bytes, which would store a value other than the one sent (issue #13 item 7).
  const parseJson = app.getDefaultJsonParser('error', 'error');
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    let text: string;
    try {
      text = utf8.decode(body as Buffer);
    } catch {
      done(new LaurelError('invalid_json', 'The request body is not valid UTF-8.'), undefined);
      return;
    }
    parseJson(request, text, done);
  });
  for (const schema of SHARED_SCHEMAS) app.addSchema(schema);

  await app.register(swagger, {
    // Shared schemas become named components (User, ErrorResponse) instead of def-N.
    refResolver: { buildLocalReference: (json, _base, _fragment, i) => String(json.$id ?? `def-${i}`) },
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'Laurel API',
        version: VERSION,
        description:
          'Loyalty platform with a SessionM-compatible API. Core routes authenticate with HTTP Basic ' +
          '`api_key:secret`; admin routes with `Authorization: Bearer <admin_token>`.',
      },
      components: {
        securitySchemes: {
          basic: { type: 'http', scheme: 'basic', description: 'api_key:secret of an app' },
          admin: { type: 'http', scheme: 'bearer', description: 'An admin token (lat_...)' },
        },
      },
    },
  });

  const verifier = new CredentialVerifier(
    opts.db,
    undefined,
    undefined,
    new FailedAuthLimiter(opts.authLimits),
  );
  if (opts.listenForRevocations) {
    const stop = await listenForRevocations(opts.db, verifier);
    app.addHook('onClose', stop);
  }

  app.get('/healthz', { schema: { hide: true } }, async () => {
    await opts.db.query('SELECT 1');
    return { status: 'ok' };
  });
  // Readiness, beside liveness (issue #18 item 8): 503 in the envelope while the database cannot be
  // reached (the error handler's connection-error branch) or its schema is not this Laurel's.
  app.get('/readyz', { schema: { hide: true } }, async () => {
    const reason = await notReadyReason(opts.db);
    if (reason) throw new LaurelError('service_unavailable', `not ready: ${reason}`, { retry_after: 5 });
    return { status: 'ok' };
  });
  registerMetrics(app, {
    db: opts.db,
    clock: opts.clock,
    lanes: verifier.lanes,
    token: opts.metricsToken,
    ...(opts.worker ? { worker: opts.worker } : {}),
  });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  // The browsable reference, rendered once from the same document (issue #6, docs at /docs).
  let reference: string | undefined;
  app.get('/docs', { schema: { hide: true } }, async (_request, reply) => {
    reference ??= renderReference(app.swagger() as unknown as OpenApiDocument);
    return reply
      .type('text/html; charset=utf-8')
      .header(
        'content-security-policy',
        "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'",
      )
      .header('x-content-type-options', 'nosniff')
      .send(reference);
  });

  const deps: RouteDeps = { db: opts.db, clock: opts.clock, verifier, giftCardKey: opts.giftCardKey };
  /** Mounts route plugins under a prefix, each route documented with its credentials. */
  const mount = async (
    prefix: string,
    security: 'basic' | 'admin',
    plugins: FastifyPluginAsyncTypebox<RouteDeps>[],
  ) =>
    app.register(
      async (scope) => {
        scope.addHook('onRoute', (route) => {
          route.schema = { ...route.schema, security: [{ [security]: [] }] };
        });
        for (const plugin of plugins) await scope.register(plugin, deps);
      },
      { prefix },
    );

  await mount('/priv/v1/apps/:api_key', 'basic', [
    customerRoutes,
    giftCardRoutes,
    campaignCoreRoutes,
    behaviourCoreRoutes,
  ]);
  await mount('/api/2.0', 'basic', [purchaseRoutes]);
  // Clients call the Incentives routes under both versions (reference §4, issue #14 item 8).
  for (const version of ['1.0', '2.0']) {
    await mount(`/incentives/api/${version}`, 'basic', [
      incentivesRoutes,
      tierRoutes,
      behaviourIncentiveRoutes,
    ]);
  }
  await mount('/admin/v1', 'admin', [
    programRoutes,
    campaignAdminRoutes,
    behaviourAdminRoutes,
    cashOutAdminRoutes,
    webhookAdminRoutes,
  ]);
  await mount('/admin/v1', 'admin', [clockRoutes]);
  // The customer-care console: HTML pages with their own session sign-in (docs/console.md).
  await app.register(consoleRoutes, { ...deps, prefix: '/console' });

  return app;
}
