import { AppError, ERROR_CATALOG, type ErrorCode } from '../errors.js';

/** The error body of the public contract. */
export interface ErrorBody {
  error: { code: ErrorCode; message: string };
}

export interface MappedError {
  status: number;
  code: ErrorCode;
  message: string;
  retryAfterSeconds?: number;
  /** True when this is a bug or an outage worth logging at error level. */
  unexpected: boolean;
}

const STATUS_TO_CODE: Record<number, ErrorCode> = {
  400: 'invalid_request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  405: 'not_found',
  409: 'conflict',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
  429: 'rate_limited',
};

/** Driver error codes that mean "a dependency is down", not "a bug". */
const UNAVAILABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', '57P01', '57P03', '08006', '08001', '08003']);

/**
 * The one mapping from any thrown value to a stable code and HTTP status, used by the
 * HTTP error handler and by the WebSocket gateway's error frames.
 */
export function mapError(err: unknown): MappedError {
  if (err instanceof AppError) {
    const m: MappedError = { status: ERROR_CATALOG[err.code].status, code: err.code, message: err.message, unexpected: err.code === 'internal' };
    if (err.retryAfterSeconds !== undefined) m.retryAfterSeconds = err.retryAfterSeconds;
    return m;
  }
  const e = err as { statusCode?: number; code?: string; validation?: unknown; validationContext?: string; message?: string } | null;
  // A path whose ids are malformed names nothing: the same answer as an id that does not exist.
  if (e && e.validation && e.validationContext === 'params') {
    return { status: 404, code: 'not_found', message: ERROR_CATALOG.not_found.message, unexpected: false };
  }
  if (e && e.validation) {
    return { status: 400, code: 'invalid_request', message: e.message ?? 'Invalid request.', unexpected: false };
  }
  if (e && typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    const code = STATUS_TO_CODE[e.statusCode] ?? 'invalid_request';
    return { status: ERROR_CATALOG[code].status, code, message: cleanFastifyMessage(e.message) ?? ERROR_CATALOG[code].message, unexpected: false };
  }
  // ioredis reports a lost connection with these messages and no code.
  if (e && typeof e.message === 'string' && /Stream isn't writeable|Connection is closed|MaxRetriesPerRequest/.test(e.message)) {
    return { status: 503, code: 'unavailable', message: ERROR_CATALOG.unavailable.message, unexpected: true };
  }
  if (e && typeof e.code === 'string' && UNAVAILABLE_CODES.has(e.code)) {
    return { status: 503, code: 'unavailable', message: ERROR_CATALOG.unavailable.message, unexpected: true };
  }
  return { status: 500, code: 'internal', message: ERROR_CATALOG.internal.message, unexpected: true };
}

function cleanFastifyMessage(msg: string | undefined): string | undefined {
  // Fastify prefixes some messages with its own code; clients get the text only.
  return msg?.replace(/^FST_[A-Z_]+:\s*/, '');
}

export function errorBody(m: MappedError): ErrorBody {
  return { error: { code: m.code, message: m.message } };
}
