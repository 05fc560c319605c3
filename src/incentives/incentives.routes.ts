import type { RouteDeps } from '../http/route-deps.js';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { appAuth, bodyRetailerOf, principalOf } from '../http/auth.js';
import { ErrorRef } from '../http/envelope.js';
import {
  AllBalancesBody,
  AllBalancesResponse,
  AuditLogBody,
  AuditLogResponse,
  BalanceBody,
  BalanceResponse,
  DepositBody,
  DepositResponse,
  SpendBody,
  SpendResponse,
} from './incentives.schema.js';
import { allBalances, balance, deposit, fetchPointAuditLogs, spendMultiple } from './incentives.service.js';

const errors = { 400: ErrorRef, 401: ErrorRef, 403: ErrorRef, 404: ErrorRef, 413: ErrorRef };
const tags = ['Points'];

/**
 * The Incentives points API (reference §4, issue #3 item 6) under `/incentives/api/1.0|2.0`, Basic
 * credentials of an app: balances, deposits, spends and the point audit log.
 */
export const incentivesRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async (
  app,
  { db, clock, verifier },
) => {
  app.addHook('onRequest', appAuth(verifier));

  app.post(
    '/user_points/balance',
    {
      schema: {
        tags,
        summary: "A member's balances in the given point accounts",
        body: BalanceBody,
        response: { 200: BalanceResponse, ...errors },
      },
    },
    async (request) => {
      const retailerId = bodyRetailerOf(request);
      return {
        status: 'ok' as const,
        payload: await balance(db, retailerId, request.body, await clock.now()),
      };
    },
  );

  app.post(
    '/user_points/all_balances',
    {
      schema: {
        tags,
        summary: "A member's balance and lifetime value in every point account, as of now",
        body: AllBalancesBody,
        response: { 200: AllBalancesResponse, ...errors },
      },
    },
    async (request) => {
      const retailerId = bodyRetailerOf(request);
      const payload = await allBalances(db, retailerId, request.body.user_id, await clock.now());
      return { status: 'ok' as const, payload };
    },
  );

  app.post(
    '/user_points/deposit',
    {
      schema: {
        tags,
        summary: 'Deposit points (a manual adjustment), once per idempotency id',
        body: DepositBody,
        response: { 200: DepositResponse, ...errors },
      },
    },
    async (request) => {
      const retailerId = bodyRetailerOf(request);
      return {
        status: 'ok' as const,
        payload: await deposit(
          db,
          retailerId,
          request.body,
          await clock.now(),
          `app:${principalOf(request).api_key}`,
        ),
      };
    },
  );

  app.post(
    '/user_points/spend_multiple',
    {
      schema: {
        tags,
        summary: 'Spend points, once per idempotency id; never below zero',
        body: SpendBody,
        response: { 200: SpendResponse, ...errors },
      },
    },
    async (request) => {
      const retailerId = bodyRetailerOf(request);
      const payload = await spendMultiple(
        db,
        retailerId,
        request.body,
        await clock.now(),
        `app:${principalOf(request).api_key}`,
      );
      return { status: 'ok' as const, payload };
    },
  );

  for (const url of ['/user_points/fetch_point_audit_logs', '/point_audit_logs/fetch_point_audit_logs']) {
    app.post(
      url,
      {
        schema: {
          tags,
          summary: "A member's point history, newest first, one row per account change",
          body: AuditLogBody,
          response: { 200: AuditLogResponse, ...errors },
        },
      },
      async (request) => {
        const retailerId = bodyRetailerOf(request);
        const payload = await fetchPointAuditLogs(db, retailerId, request.body, await clock.now());
        return { status: 'ok' as const, payload };
      },
    );
  }
};
