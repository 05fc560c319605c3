import { Type } from '@sinclair/typebox';

/** The error envelope of every API surface (DESIGN §8): `{"status":"error","errors":{"code","message"}}`. */
export const ErrorResponse = Type.Object(
  {
    status: Type.Literal('error'),
    errors: Type.Object({
      code: Type.String({ description: 'Stable lowercase code; see docs/errors.md.' }),
      message: Type.String(),
      field: Type.Optional(Type.String({ description: 'The offending field, when there is one.' })),
    }),
  },
  { $id: 'ErrorResponse' },
);

/** Reference to the shared error schema, for route `response` maps. */
export const ErrorRef = Type.Ref(ErrorResponse);

export const errorBody = (code: string, message: string, field?: string) => ({
  status: 'error' as const,
  errors: field ? { code, message, field } : { code, message },
});
