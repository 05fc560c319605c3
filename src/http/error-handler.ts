import type { FastifyError, FastifyInstance } from 'fastify';
import { isConnectionError } from '../db/database.js';
import { ERRORS, LaurelError, registeredField, wireCode, type ErrorCode } from '../errors.js';
import { errorBody } from './envelope.js';
import { registerBodyGuards } from './body-guards.js';

interface AjvIssue {
  keyword: string;
  instancePath: string;
  message?: string;
  params: Record<string, unknown>;
}

/** Turns an Ajv issue into a field path and a sentence a developer can act on. */
function describeValidation(
  context: string | undefined,
  issue: AjvIssue,
): { code: ErrorCode; message: string; field: string } {
  const path = issue.instancePath.split('/').filter(Boolean).join('.');
  if (issue.keyword === 'required') {
    const field = [path, String(issue.params.missingProperty)].filter(Boolean).join('.');
    return { code: 'missing_data', message: `${field} is required`, field };
  }
  const field = path || (context ?? 'request');
  return { code: 'validation', message: `${field} ${issue.message ?? 'is not valid'}`, field };
}

/**
 * SessionM's per-field map of a failed profile write (issue #14 item 14): on a body `{"user":{...}}`
 * a validation error of a user field also answers `"user":{"<field>":"<what is wrong>"}`, which
 * SessionM clients read. `user.phone_numbers.0.phone_number` and `phone_numbers[0]...` name the
 * field `phone_numbers`. Anything else (another body, no field) has no map.
 */
function userFieldMap(body: unknown, field: string | undefined, message: string) {
  const user = (body as { user?: unknown } | null | undefined)?.user;
  if (!field || !user || typeof user !== 'object' || Array.isArray(user)) return undefined;
  const key = field.replace(/^user\./, '').split(/[.[]/)[0];
  if (!key || key === 'user') return undefined;
  return { [key]: message };
}

/**
 * The envelope a `LaurelError` answers with, for a request whose body was `body` (DESIGN §8). The
 * console shows its actions' refusals through this too (issue #18 item 12), so an agent reads the
 * code and sentence an app would get for the same change.
 */
export function envelopeOf(err: LaurelError, body?: unknown): ReturnType<typeof errorBody> {
  const registered = registeredField(err.code);
  const field = typeof err.details?.field === 'string' ? err.details.field : registered?.field;
  const code = wireCode(err.code);
  const fieldMessage =
    typeof err.details?.field_message === 'string'
      ? err.details.field_message
      : (registered?.message ?? err.message);
  const user = code === 'validation' ? userFieldMap(body, field, fieldMessage) : undefined;
  return errorBody(code, err.message, field, user);
}

const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'payload_too_large',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'invalid_json',
  FST_ERR_CTP_INVALID_JSON_BODY: 'invalid_json',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'validation',
};

/**
 * Maps every failure once into the API's envelope with a real status (DESIGN §8). Nothing
 * internal (stack, SQL) reaches the client; unexpected errors are logged with the request id.
 * Bodies the server cannot handle (text the database would refuse or change, nesting that would
 * overflow the stack) are refused here first, so they are a 400, never a 500.
 */
export function registerErrorHandling(app: FastifyInstance): void {
  registerBodyGuards(app);
  app.setErrorHandler((err: FastifyError, request, reply) => {
    if (err instanceof LaurelError) {
      if (typeof err.details?.retry_after === 'number')
        reply.header('retry-after', String(err.details.retry_after));
      return reply.status(err.status).send(envelopeOf(err, request.body));
    }
    if (err.validation && err.validation.length) {
      // No body at all is missing data (docs/errors.md), not a body of the wrong type.
      if (err.validationContext === 'body' && request.body === undefined) {
        return reply.status(400).send(errorBody('missing_data', 'a JSON body is required', 'body'));
      }
      const d = describeValidation(err.validationContext, err.validation[0] as AjvIssue);
      const user = d.code === 'validation' ? userFieldMap(request.body, d.field, d.message) : undefined;
      return reply.status(400).send(errorBody(d.code, d.message, d.field, user));
    }
    const mapped = err.code ? FASTIFY_CODES[err.code] : undefined;
    if (mapped) return reply.status(ERRORS[mapped].status).send(errorBody(mapped, ERRORS[mapped].message));
    if (err instanceof SyntaxError && err.statusCode === 400) {
      return reply
        .status(400)
        .send(errorBody('invalid_json', `The request body is not valid JSON: ${err.message}`));
    }
    if (isConnectionError(err)) {
      request.log.warn({ err: { message: err.message, code: err.code } }, 'database unavailable');
      return reply
        .status(503)
        .header('retry-after', '1')
        .send(errorBody('service_unavailable', ERRORS.service_unavailable.message));
    }
    const status = err.statusCode ?? 500;
    if (status >= 400 && status < 500) {
      const code: ErrorCode = status === 404 ? 'not_found' : 'validation';
      return reply.status(status).send(errorBody(code, err.message || ERRORS[code].message));
    }
    request.log.error({ err }, 'unhandled error');
    return reply.status(500).send(errorBody('internal_server_error', ERRORS.internal_server_error.message));
  });

  app.setNotFoundHandler((request, reply) => {
    reply.status(404).send(errorBody('not_found', `No route ${request.method} ${request.url.split('?')[0]}`));
  });
}
