import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { UserInput } from '../customers/customer.schema.js';
import type { ErrorCode } from '../errors.js';
import { bodyProblem } from '../http/body-guards.js';
import { SendTransactionBody } from '../purchases/purchase.schema.js';

/**
 * The API's own body schemas, compiled as the HTTP layer compiles them (src/app.ts: no type
 * coercion), so an imported row is held to exactly what a client's request body would be.
 */
const ajv = new Ajv({
  allErrors: false,
  useDefaults: true,
  removeAdditional: false,
  strict: false,
  coerceTypes: false,
});
addFormats.default(ajv);

const userInput = ajv.compile(UserInput);
const sendTransactionBody = ajv.compile(SendTransactionBody);

export interface RowProblem {
  code: ErrorCode;
  reason: string;
}

/** The first schema error as the API words it (src/http/error-handler.ts): field path and message. */
function describe(errors: ErrorObject[] | null | undefined, prefix: string): RowProblem {
  const e = errors?.[0];
  if (!e) return { code: 'validation', reason: `${prefix || 'row'} is not valid` };
  const path = [prefix, ...e.instancePath.split('/').filter(Boolean)].filter(Boolean).join('.');
  if (e.keyword === 'required') {
    const field = [path, String(e.params.missingProperty)].filter(Boolean).join('.');
    return { code: 'missing_data', reason: `${field} is required` };
  }
  return { code: 'validation', reason: `${path || prefix || 'row'} ${e.message ?? 'is not valid'}` };
}

export type Checked<T> = { ok: true; value: T } | { ok: false; problem: RowProblem };

function check<T>(validate: ValidateFunction, value: unknown, prefix: string): Checked<T> {
  // Text the database cannot store (a NUL, a lone surrogate) is refused as the API's body guard
  // refuses it, before the schema: such a row reached the batch's shared statements and failed every
  // row read with it (issue #16).
  const unfit = bodyProblem(value);
  if (unfit)
    return {
      ok: false,
      problem: { code: 'validation', reason: prefix ? `${prefix}.${unfit.message}` : unfit.message },
    };
  return validate(value)
    ? { ok: true, value: value as T }
    : { ok: false, problem: describe(validate.errors, prefix) };
}

/** A Core API `user` body, or why not. */
export const checkUser = (value: unknown): Checked<UserInput> => check(userInput, value, 'user');

/** A POS `send_transaction` body, or why not. */
export const checkTransaction = (value: unknown): Checked<SendTransactionBody> =>
  check(sendTransactionBody, value, '');
