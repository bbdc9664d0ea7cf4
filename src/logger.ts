import { pino, type Logger as PinoLogger } from 'pino';

export type Logger = PinoLogger;

/** The process logger: JSON lines on stdout (pretty output is for `npm run dev | pino-pretty`). */
export function createLogger(level: string, base: Record<string, unknown> = {}): Logger {
  return pino({ level, base: { pid: process.pid, ...base }, redact: ['req.headers.authorization', '*.password', '*.refreshToken'] });
}
