import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { SimulatedClock } from '../clock.js';
import type { RouteDeps } from '../http/route-deps.js';
import { validationError } from '../errors.js';
import { adminAuth } from '../http/auth.js';
import { ErrorRef, OkStatus } from '../http/envelope.js';
import { parseInstant } from '../domain/time.js';

const ClockResponse = Type.Object({
  status: OkStatus,
  clock: Type.Object(
    {
      now: Type.String({ description: 'ISO-8601, UTC' }),
      simulated: Type.Boolean({
        description:
          'false on the real clock (start the server with --clock simulated to simulate; only then can POST set it).',
      }),
    },
    { description: "The server's clock: the time every request and the sweeper take as now." },
  ),
});
const errors = { 400: ErrorRef, 401: ErrorRef };

/**
 * The server's clock (DESIGN §5). GET reads it whichever it is; POST moves the simulated clock of a
 * server started with `--clock simulated`, and on the real clock says how to get one (issue #18: it
 * answered "No route", which read as a typo in the path).
 */
export const clockRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async (app, deps) => {
  const { clock, verifier } = deps;
  app.addHook('onRequest', adminAuth(verifier));
  const answer = (now: Date) => ({
    status: 'ok' as const,
    clock: { now: now.toISOString(), simulated: clock.simulated },
  });

  app.get(
    '/clock',
    {
      schema: {
        tags: ['Admin'],
        summary: "Read the server's clock (real or simulated)",
        response: { 200: ClockResponse, ...errors },
      },
    },
    async () => answer(await clock.now()),
  );

  app.post(
    '/clock',
    {
      schema: {
        tags: ['Admin'],
        summary: 'Set the simulated clock (never backwards; only with --clock simulated)',
        body: Type.Object({
          now: Type.String({ description: 'ISO-8601 with offset', examples: ['2026-12-01T05:00:00Z'] }),
        }),
        response: { 200: ClockResponse, ...errors },
      },
    },
    async (request) => {
      if (!(clock instanceof SimulatedClock)) {
        throw validationError(
          'this server runs on the real clock, which cannot be set: start it with --clock simulated to simulate time',
        );
      }
      const to = parseInstant(request.body.now);
      if (!to)
        throw validationError(
          'now must be an ISO-8601 instant with an offset, e.g. 2026-12-01T05:00:00Z',
          'now',
        );
      return answer(await clock.set(to));
    },
  );
};
