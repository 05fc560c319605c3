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
        description: 'Always true: the route exists only on a server started with --clock simulated.',
      }),
    },
    { description: "The server's clock: the time every request and the sweeper take as now." },
  ),
});
const errors = { 400: ErrorRef, 401: ErrorRef };

/**
 * The simulated clock (DESIGN §5), registered only with `--clock simulated`; without it the route
 * does not exist and the real clock runs.
 */
export const clockRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async (app, deps) => {
  const { clock, verifier } = deps;
  if (!(clock instanceof SimulatedClock)) throw new Error('the clock routes need the simulated clock');
  app.addHook('onRequest', adminAuth(verifier));
  const answer = (now: Date) => ({
    status: 'ok' as const,
    clock: { now: now.toISOString(), simulated: true },
  });

  app.get(
    '/clock',
    {
      schema: {
        tags: ['Admin'],
        summary: 'Read the simulated clock',
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
        summary: 'Set the simulated clock (never backwards)',
        body: Type.Object({
          now: Type.String({ description: 'ISO-8601 with offset', examples: ['2026-12-01T05:00:00Z'] }),
        }),
        response: { 200: ClockResponse, ...errors },
      },
    },
    async (request) => {
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
