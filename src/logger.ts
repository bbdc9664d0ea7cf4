import { pino, type DestinationStream, type Logger as PinoLogger } from 'pino';

export type Logger = PinoLogger;

/**
 * Query parameters that carry a credential: presigned URL signatures (our own `sig`, S3's
 * `X-Amz-*`), WebSocket `token`s, OAuth-style tokens. Matched case-insensitively.
 */
const SECRET_PARAMS = ['sig', 'signature', 'token', 'access_token', 'refresh_token', 'x-amz-signature', 'x-amz-credential', 'x-amz-security-token', 'key'];
const SECRET_RE = new RegExp(`([?&](?:${SECRET_PARAMS.join('|')})=)[^&#\\s"']*`, 'gi');

/** `text` (a URL, or a message holding one) with the value of every credential-bearing query parameter replaced. */
export function redactSecrets(text: string): string {
  return text.replace(SECRET_RE, '$1[REDACTED]');
}

function redactFields(obj: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...obj };
  for (const k of ['url', 'uploadUrl', 'location']) if (typeof out[k] === 'string') out[k] = redactSecrets(out[k] as string);
  const req = out.req as { url?: unknown } | undefined;
  if (req && Object.getPrototypeOf(req) === Object.prototype && typeof req.url === 'string') out.req = { ...req, url: redactSecrets(req.url) };
  return out;
}

/**
 * The process logger: JSON lines on stdout (pretty output is for `npm run dev | pino-pretty`).
 * Signed URLs and tokens in query strings are redacted from every line: from messages and
 * from `url`, `req.url` and the like, whoever logs them.
 */
export function createLogger(level: string, base: Record<string, unknown> = {}, destination?: DestinationStream): Logger {
  const options: pino.LoggerOptions = {
    level,
    base: { pid: process.pid, ...base },
    redact: ['req.headers.authorization', '*.password', '*.refreshToken'],
    hooks: {
      logMethod(args, method) {
        const redacted = args.map((a: unknown) => (typeof a === 'string' ? redactSecrets(a) : a && typeof a === 'object' && !(a instanceof Error) ? redactFields(a as Record<string, unknown>) : a));
        return method.apply(this, redacted as Parameters<typeof method>);
      },
    },
  };
  return destination ? pino(options, destination) : pino(options);
}
