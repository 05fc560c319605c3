import { Type } from '@sinclair/typebox';

/** The error envelope of every API surface (DESIGN §8): `{"status":"error","errors":{"code","message"}}`. */
export const ErrorResponse = Type.Object(
  {
    status: Type.Literal('error', { description: 'Always error; the HTTP status is a real 4xx or 5xx.' }),
    errors: Type.Object(
      {
        code: Type.String({ description: 'Stable lowercase code; see docs/errors.md.' }),
        user: Type.Optional(
          Type.Record(Type.String(), Type.String(), {
            description:
              'SessionM\'s per-field map on a profile create or update that fails validation: the user field at fault and what is wrong with it, e.g. {"email":"Email Already In Use"}.',
          }),
        ),
        message: Type.String({
          description: 'A sentence for the developer; act on code, not on the wording.',
        }),
        field: Type.Optional(Type.String({ description: 'The offending field, when there is one.' })),
      },
      { description: 'What went wrong.' },
    ),
  },
  { $id: 'ErrorResponse' },
);

/** The `status` of every successful Core, Incentives and admin answer. */
export const OkStatus = Type.Literal('ok', {
  description: 'Always ok; a failure answers the error envelope instead.',
});

/** Reference to the shared error schema, for route `response` maps. */
export const ErrorRef = Type.Ref(ErrorResponse);

/** The error answers every admin route may give. */
export const adminErrors = { 400: ErrorRef, 401: ErrorRef, 404: ErrorRef, 413: ErrorRef };

export const errorBody = (code: string, message: string, field?: string, user?: Record<string, string>) => ({
  status: 'error' as const,
  errors: { code, ...(user ? { user } : {}), message, ...(field ? { field } : {}) },
});
