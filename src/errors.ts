/**
 * The one error registry (CONVENTIONS: "every error code in one registry file with its status and
 * message"). Domain code throws `LaurelError`s by code; the HTTP edge maps them once into the API's
 * envelope `{"status":"error","errors":{"code","message"}}` (DESIGN §8).
 *
 * Codes are lowercase, as on the SessionM wire (reference §2). Codes from that family keep their
 * meaning; codes of our own are listed here and in docs/errors.md.
 */
export const ERRORS = {
  validation: { status: 400, message: 'The request is not valid.' },
  missing_data: { status: 400, message: 'A required field is missing.' },
  invalid_json: { status: 400, message: 'The request body is not valid JSON.' },
  insufficient_points: {
    status: 400,
    message: 'The member does not have enough points; nothing was spent.',
  },
  invalid_auth_token: { status: 401, message: 'The credentials are missing or not valid.' },
  access_denied: { status: 403, message: 'These credentials may not do this.' },
  not_found: { status: 404, message: 'No such route.' },
  user_not_found: { status: 404, message: 'No such user.' },
  webhook_not_found: { status: 404, message: 'No such webhook.' },
  no_active_campaign_found: {
    status: 404,
    message: 'No active campaign of that id that this member may join.',
  },
  // SessionM answers a duplicate email as a validation error of the field (issue #14 item 14);
  // Laurel keeps its own code inside (the importer tells it apart) and a real 409.
  email_taken: {
    status: 409,
    message: 'Another user of this retailer already has this email.',
    wire: 'validation',
    field: 'email',
    field_message: 'Email Already In Use',
  },
  external_id_taken: { status: 409, message: 'Another user of this retailer already has this external id.' },
  idempotency_conflict: {
    status: 409,
    message: 'This idempotency key was already used with a different request.',
  },
  payload_too_large: { status: 413, message: 'The request body is too large.' },
  uri_too_long: { status: 414, message: 'The request path is too long.' },
  headers_too_large: { status: 431, message: "The request's headers or URL are too large." },
  bad_request: { status: 400, message: 'The request could not be read as HTTP.' },
  unsupported_media_type: { status: 415, message: 'Send the body as application/json.' },
  too_many_requests: { status: 429, message: 'Too many requests; slow down.' },
  internal_server_error: { status: 500, message: 'Something went wrong on our side.' },
  service_unavailable: { status: 503, message: 'The service is temporarily unavailable; retry shortly.' },
} as const satisfies Record<string, ErrorEntry>;

/**
 * One registered error: its HTTP status and default message; `wire` is the code the envelope shows
 * when it is not the registry's own, and `field`/`field_message` the per-field entry it carries.
 */
interface ErrorEntry {
  status: number;
  message: string;
  wire?: string;
  field?: string;
  field_message?: string;
}

export type ErrorCode = keyof typeof ERRORS;

/** The code the envelope shows for `code`. */
export const wireCode = (code: ErrorCode): string => (ERRORS[code] as ErrorEntry).wire ?? code;

/** The field a registered error names by itself (`email_taken`: email), with SessionM's wording. */
export const registeredField = (code: ErrorCode): { field: string; message: string } | undefined => {
  const e = ERRORS[code] as ErrorEntry;
  return e.field ? { field: e.field, message: e.field_message ?? e.message } : undefined;
};

/** A failure with a registered code; `message` overrides the registry's default wording. */
export class LaurelError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message?: string, details?: Record<string, unknown>) {
    super(message ?? ERRORS[code].message);
    this.name = 'LaurelError';
    this.code = code;
    this.status = ERRORS[code].status;
    this.details = details;
  }
}

/**
 * A validation error of `field`. `fieldMessage` is the wording of SessionM's per-field map
 * (`"user":{"state":"not a valid state"}`) where SessionM's is known; else the map repeats `message`.
 */
export const validationError = (message: string, field?: string, fieldMessage?: string): LaurelError =>
  new LaurelError(
    'validation',
    message,
    field ? { field, ...(fieldMessage ? { field_message: fieldMessage } : {}) } : undefined,
  );
