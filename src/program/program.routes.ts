import type { RouteDeps } from '../http/route-deps.js';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { adminAuth, adminRetailerOf } from '../http/auth.js';
import { ErrorRef } from '../http/envelope.js';
import type { ProgramVersionRow } from './program.repository.js';
import { listProgramVersions } from './program.repository.js';
import { ProgramBody, ProgramResponse, ProgramVersionsResponse } from './program.schema.js';
import { getProgramVersionAt, replaceProgram } from './program.service.js';

const errors = { 400: ErrorRef, 401: ErrorRef, 413: ErrorRef };
const tags = ['Admin'];

const wire = (row: ProgramVersionRow) => ({
  version: row.version,
  effective_from: row.effective_from ? row.effective_from.toISOString() : null,
  created_at: row.created_at.toISOString(),
  program: row.document,
});

/** The retailer's program through the admin API (issue #3): read, replace (a new version), list versions. */
export const programRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async (app, { db, clock, verifier }) => {
  app.addHook('onRequest', adminAuth(verifier));

  app.get(
    '/program',
    {
      schema: {
        tags,
        summary: 'The program version in force now',
        response: { 200: ProgramResponse, ...errors },
      },
    },
    async (request) => ({
      status: 'ok' as const,
      program_version: wire(await getProgramVersionAt(db, adminRetailerOf(request), await clock.now())),
    }),
  );

  app.put(
    '/program',
    {
      schema: {
        tags,
        summary: 'Replace the program: a new version, in force from now; earlier purchases keep theirs',
        body: ProgramBody,
        response: { 200: ProgramResponse, ...errors },
      },
    },
    async (request) => ({
      status: 'ok' as const,
      program_version: wire(
        await replaceProgram(db, adminRetailerOf(request), request.body.program, await clock.now()),
      ),
    }),
  );

  app.get(
    '/program/versions',
    {
      schema: {
        tags,
        summary: 'Every version of the program',
        response: { 200: ProgramVersionsResponse, ...errors },
      },
    },
    async (request) => ({
      status: 'ok' as const,
      versions: (await listProgramVersions(db, adminRetailerOf(request))).map((v) => ({
        version: v.version,
        effective_from: v.effective_from ? v.effective_from.toISOString() : null,
        created_at: v.created_at.toISOString(),
      })),
    }),
  );
};
