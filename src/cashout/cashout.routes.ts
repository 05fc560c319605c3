import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { RouteDeps } from '../http/route-deps.js';
import { adminAuth, adminRetailerOf, appAuth, principalOf } from '../http/auth.js';
import { ErrorRef } from '../http/envelope.js';
import { coreTime } from '../domain/time.js';
import { UserIdParams } from '../customers/customer.schema.js';
import { runCashOutsNow } from '../jobs/sweeper.js';
import {
  AdminGiftCardsResponse,
  AdminUserParams,
  CashOutReportResponse,
  CashOutReportsResponse,
  CashOutRunResponse,
  CoreGiftCardsResponse,
  PeriodParams,
} from './cashout.schema.js';
import { cashOutReport, cashOutReports, giftCardsOf, type CashOutReport } from './cashout.service.js';

const errors = { 400: ErrorRef, 401: ErrorRef, 404: ErrorRef };

/** A member's gift cards on the Core API (Laurel's extension, issue #5): codes shown whole. */
export const giftCardRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async (app, opts) => {
  const { db, clock, giftCardKey } = opts;
  app.addHook('onRequest', appAuth(opts.verifier));
  app.get(
    '/users/:user_id/gift_cards',
    {
      schema: {
        tags: ['Gift cards'],
        summary: "A member's gift cards from cash-outs, newest first (Laurel's extension)",
        params: UserIdParams,
        response: { 200: CoreGiftCardsResponse, ...errors },
      },
    },
    async (request) => {
      const { retailer_id } = principalOf(request);
      const cards = await giftCardsOf(
        db,
        retailer_id,
        request.params.user_id,
        await clock.now(),
        giftCardKey,
        true,
      );
      return {
        status: 'ok' as const,
        gift_cards: cards.map((c) => ({ ...c, issued_at: coreTime(c.issued_at) })),
      };
    },
  );
};

const wireReport = (r: CashOutReport) => ({
  ...r,
  period_end: r.period_end.toISOString(),
  run: r.run
    ? {
        started_at: r.run.started_at.toISOString(),
        completed_at: r.run.completed_at ? r.run.completed_at.toISOString() : null,
        members_visited: r.run.members_visited,
        failures: r.run.failures,
        last_error: r.run.last_error,
      }
    : null,
});

/** Cash-outs through the admin API (DESIGN §8): reports, runs, and a member's cards (codes masked). */
export const cashOutAdminRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async (app, opts) => {
  const { db, clock, giftCardKey } = opts;
  app.addHook('onRequest', adminAuth(opts.verifier));
  const tags = ['Admin'];

  app.get(
    '/users/:user_id/gift_cards',
    {
      schema: {
        tags,
        summary: "A member's gift cards, codes masked but for their last group",
        params: AdminUserParams,
        response: { 200: AdminGiftCardsResponse, ...errors },
      },
    },
    async (request) => {
      const cards = await giftCardsOf(
        db,
        adminRetailerOf(request),
        request.params.user_id,
        await clock.now(),
        giftCardKey,
        false,
      );
      return {
        status: 'ok' as const,
        gift_cards: cards.map((c) => ({ ...c, issued_at: c.issued_at.toISOString() })),
      };
    },
  );

  app.get(
    '/cash_outs',
    {
      schema: {
        tags,
        summary: 'The cash-out report of every period with a run or a gift card, newest first',
        response: { 200: CashOutReportsResponse, ...errors },
      },
    },
    async (request) => ({
      status: 'ok' as const,
      cash_outs: (await cashOutReports(db, adminRetailerOf(request), await clock.now())).map(wireReport),
    }),
  );

  app.get(
    '/cash_outs/:period',
    {
      schema: {
        tags,
        summary: 'The cash-out report of one period: members, points converted, gift-card value, points left',
        params: PeriodParams,
        response: { 200: CashOutReportResponse, ...errors },
      },
    },
    async (request) => ({
      status: 'ok' as const,
      cash_out: wireReport(
        await cashOutReport(db, adminRetailerOf(request), request.params.period, await clock.now()),
      ),
    }),
  );

  app.post(
    '/cash_outs/run',
    {
      schema: {
        tags,
        summary:
          'Run the cash-out of the last period that ended, now, for every member (the sweeper does it by itself); running again changes nothing',
        response: { 200: CashOutRunResponse, ...errors },
      },
    },
    async (request) => {
      const r = await runCashOutsNow(db, await clock.now(), adminRetailerOf(request));
      return {
        status: 'ok' as const,
        runs: r.runs.map((x) => ({ period: x.period, members: x.members, completed: x.completed })),
        failures: r.failures.length,
      };
    },
  );
};
