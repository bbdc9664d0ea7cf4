/**
 * The one catalog of stable error codes. Services throw `AppError`s with these codes;
 * the HTTP gateway and the WebSocket gateway each map them in one place
 * (`src/gateway/error-mapping.ts`). Codes are part of the public contract: never
 * rename or reuse one. `test/errors.test.ts` fails when a code is not documented in
 * `docs/errors.md`.
 */
export const ERROR_CATALOG = {
  invalid_request: { status: 400, message: 'The request is not valid.' },
  unauthorized: { status: 401, message: 'Authentication is required or has failed.' },
  forbidden: { status: 403, message: 'You are not allowed to do this.' },
  not_found: { status: 404, message: 'Not found.' },
  blocked: { status: 403, message: 'The recipient does not accept messages from you.' },
  account_deactivated: { status: 403, message: 'This account has been deactivated.' },
  conflict: { status: 409, message: 'The request conflicts with the current state.' },
  payload_too_large: { status: 413, message: 'The payload is too large.' },
  unsupported_media_type: { status: 415, message: 'The content type is not supported.' },
  rate_limited: { status: 429, message: 'Too many requests; retry later.' },
  internal: { status: 500, message: 'Internal server error.' },
  unavailable: { status: 503, message: 'A dependency is unavailable; retry later.' },
} as const;

export type ErrorCode = keyof typeof ERROR_CATALOG;

/** A domain error with a stable code; transport-free (no HTTP in services). */
export class AppError extends Error {
  readonly code: ErrorCode;
  /** Seconds after which a rate-limited client may retry. */
  readonly retryAfterSeconds?: number;
  readonly details?: Record<string, unknown>;

  constructor(
    code: ErrorCode,
    message?: string,
    opts: { retryAfterSeconds?: number; details?: Record<string, unknown>; cause?: unknown } = {},
  ) {
    super(message ?? ERROR_CATALOG[code].message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'AppError';
    this.code = code;
    if (opts.retryAfterSeconds !== undefined) this.retryAfterSeconds = opts.retryAfterSeconds;
    if (opts.details !== undefined) this.details = opts.details;
  }
}

export const invalid = (message: string): AppError => new AppError('invalid_request', message);
export const notFound = (what = 'Not found.'): AppError => new AppError('not_found', what);
export const forbidden = (message?: string): AppError => new AppError('forbidden', message);
export const conflict = (message: string): AppError => new AppError('conflict', message);
export const unauthorized = (message?: string): AppError => new AppError('unauthorized', message);

export function isAppError(err: unknown): err is AppError {
  return err instanceof AppError;
}
