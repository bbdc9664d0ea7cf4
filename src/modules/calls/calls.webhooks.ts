import { createHash, timingSafeEqual } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { AppError, invalid, unauthorized } from '../../errors.js';
import type { Config } from '../../config.js';
import { ErrorResponse, type HttpApp } from '../../gateway/http.js';
import { verifyGetStreamSignature } from '../../platform/rtc/index.js';
import { ARTC_ID } from '../../platform/rtc/rtc.aliyun.js';
import type { CallsService } from './calls.service.js';

/** Largest webhook body accepted, compressed or not (provider events are a few KiB). */
export const WEBHOOK_MAX_BYTES = 256 * 1024;

const WebhookAnswer = Type.Object({ ok: Type.Boolean(), results: Type.Array(Type.String()) }, { title: 'WebhookAnswer' });
const errors = { 400: ErrorResponse, 401: ErrorResponse, 413: ErrorResponse };

function header(req: FastifyRequest, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** Equal in constant time, whatever the lengths. */
function sameSecret(a: string, b: string): boolean {
  return timingSafeEqual(createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest());
}

/** A gzip body (magic 1f 8b, or Content-Encoding: gzip) inflated, bounded against zip bombs. */
function inflate(req: FastifyRequest, raw: Buffer): Buffer {
  const gzip = (raw.length >= 2 && raw[0] === 0x1f && raw[1] === 0x8b) || /gzip/i.test(header(req, 'content-encoding') ?? '');
  if (!gzip) return raw;
  try {
    return gunzipSync(raw, { maxOutputLength: WEBHOOK_MAX_BYTES });
  } catch (err) {
    if ((err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE' || err instanceof RangeError) throw new AppError('payload_too_large', `Webhook body over ${WEBHOOK_MAX_BYTES} bytes once inflated.`);
    throw invalid('Webhook body is not valid gzip.');
  }
}

function parseJson(bytes: Buffer): Record<string, unknown> {
  try {
    const v: unknown = JSON.parse(bytes.toString('utf8'));
    if (typeof v === 'object' && v !== null && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch {
    /* below */
  }
  throw invalid('Webhook body is not a JSON object.');
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v.length > 0 && v.length <= 200 ? v : undefined);

function dateOf(v: unknown, fallback = new Date()): Date {
  const d = typeof v === 'string' ? new Date(v) : typeof v === 'number' ? new Date(v * 1000) : fallback;
  return Number.isNaN(d.getTime()) ? fallback : d;
}

/**
 * Provider webhooks: `POST /v1/webhooks/getstream` (X-Signature = hex HMAC-SHA256 of the
 * raw body with the API secret; gzip bodies are signed over their inflated bytes) and
 * `POST /v1/webhooks/aliyun-rtc` (CreateEventSubscribe callbacks, protected by
 * ALIYUN_RTC_CALLBACK_SECRET). A bad signature or secret is 401 and changes nothing;
 * deliveries are applied once per id, in whatever order they come.
 */
export function registerCallWebhooks(app: HttpApp, deps: { calls: CallsService; config: Config }): void {
  const { calls, config } = deps;
  void app.register(async (scope) => {
    // The signature is over the exact bytes: keep them (this scope only).
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: WEBHOOK_MAX_BYTES }, (_req, body, done) => done(null, body));

    scope.post(
      '/v1/webhooks/getstream',
      {
        schema: {
          tags: ['calls'],
          summary: 'GetStream Video webhook (X-Signature: hex HMAC-SHA256 of the body with the API secret). Applied once per X-Webhook-Id.',
          response: { 200: WebhookAnswer, ...errors },
        },
      },
      async (req) => {
        if (!config.GETSTREAM_API_SECRET) throw unauthorized('GetStream webhooks are not configured.');
        const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
        const apiKey = header(req, 'x-api-key');
        if (apiKey !== undefined && apiKey !== config.GETSTREAM_API_KEY) throw unauthorized('Unknown API key.');
        const body = inflate(req, raw);
        if (!verifyGetStreamSignature(config.GETSTREAM_API_SECRET, body, header(req, 'x-signature'))) throw unauthorized('Bad webhook signature.');
        const ev = parseJson(body);
        const type = str(ev.type);
        if (!type) throw invalid('Webhook event without a type.');
        const cid = str(ev.call_cid);
        if (!cid) return { ok: true, results: ['ignored'] };
        const eventId = str(header(req, 'x-webhook-id')) ?? createHash('sha256').update(body).digest('hex');
        const at = dateOf(ev.created_at);
        const participant = ev.participant as { user?: { id?: unknown } } | undefined;
        const userId = str(participant?.user?.id) ?? str((ev.user as { id?: unknown } | undefined)?.id);
        const base = { eventId, type, providerCallId: cid, at };
        let result;
        switch (type) {
          case 'call.session_participant_joined':
            if (!userId) throw invalid('Participant event without a user.');
            result = await calls.applyProviderEvent('getstream', { ...base, action: 'joined', userId });
            break;
          case 'call.session_participant_left': {
            if (!userId) throw invalid('Participant event without a user.');
            const secs = typeof ev.duration_seconds === 'number' && Number.isFinite(ev.duration_seconds) && ev.duration_seconds >= 0 ? Math.min(Math.round(ev.duration_seconds), 2 ** 31 - 1) : undefined;
            result = await calls.applyProviderEvent('getstream', { ...base, action: 'left', userId, ...(secs !== undefined ? { seconds: secs } : {}) });
            break;
          }
          case 'call.session_ended':
          case 'call.ended':
            result = await calls.applyProviderEvent('getstream', { ...base, action: 'ended' });
            break;
          case 'call.stats_report_ready':
            result = await calls.applyProviderEvent('getstream', { ...base, action: 'stats', stats: { session_id: ev.session_id ?? null, counts: ev.counts ?? null, received_at: new Date().toISOString() } });
            break;
          default:
            result = await calls.applyProviderEvent('getstream', { ...base, action: 'none' });
        }
        return { ok: true, results: [result] };
      },
    );

    scope.post(
      '/v1/webhooks/aliyun-rtc',
      {
        schema: {
          tags: ['calls'],
          summary: 'Aliyun ARTC CreateEventSubscribe callback (channel and user events). Needs ?token=<ALIYUN_RTC_CALLBACK_SECRET> or Authorization: Bearer <secret>. Applied once per MsgId.',
          querystring: Type.Object({ token: Type.Optional(Type.String({ maxLength: 500 })) }),
          response: { 200: WebhookAnswer, ...errors },
        },
      },
      async (req) => {
        const secret = config.ALIYUN_RTC_CALLBACK_SECRET;
        const bearer = /^Bearer\s+(\S+)$/i.exec(header(req, 'authorization') ?? '')?.[1];
        const given = (req.query as { token?: string }).token ?? bearer;
        if (!secret || !given || !sameSecret(given, secret)) throw unauthorized('Bad or missing callback secret.');
        const ev = parseJson(inflate(req, Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0)));
        const msgId = typeof ev.MsgId === 'number' ? String(ev.MsgId) : str(ev.MsgId);
        const channel = str(ev.ChannelID) ?? str(ev.ChannelId);
        if (!msgId || !channel || !ARTC_ID.test(channel) || !Array.isArray(ev.Contents) || ev.Contents.length > 100) throw invalid('Expected {MsgId, ChannelID, Contents: [...]}.');
        const items = ev.Contents as unknown[];
        for (const c of items) if (typeof c !== 'object' || c === null || typeof (c as { Event?: unknown }).Event !== 'string') throw invalid('Each of Contents needs an Event.');
        const results: string[] = [];
        for (const [i, item] of items.entries()) {
          const c = item as { Event: string; UserEvent?: Record<string, unknown>; ChannelEvent?: Record<string, unknown> };
          const base = { eventId: `${msgId}:${i}`, type: c.Event, providerCallId: channel };
          if (c.Event === 'UserEvent' && c.UserEvent) {
            const userId = str(c.UserEvent.UserId);
            const tag = str(c.UserEvent.EventTag);
            const at = dateOf(c.UserEvent.Timestamp);
            if (!userId) throw invalid('UserEvent without a UserId.');
            if (tag === 'Join') results.push(await calls.applyProviderEvent('aliyun', { ...base, type: 'UserEvent.Join', at, action: 'joined', userId }));
            else if (tag === 'Leave') results.push(await calls.applyProviderEvent('aliyun', { ...base, type: 'UserEvent.Leave', at, action: 'left', userId }));
            else results.push(await calls.applyProviderEvent('aliyun', { ...base, type: `UserEvent.${tag ?? '?'}`, at, action: 'none' }));
          } else if (c.Event === 'ChannelEvent' && c.ChannelEvent) {
            const tag = str(c.ChannelEvent.EventTag);
            const at = dateOf(c.ChannelEvent.Timestamp);
            results.push(await calls.applyProviderEvent('aliyun', { ...base, type: `ChannelEvent.${tag ?? '?'}`, at, action: tag === 'Close' ? 'ended' : 'none' }));
          } else {
            results.push('ignored');
          }
        }
        return { ok: true, results };
      },
    );
  });
}
