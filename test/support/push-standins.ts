/**
 * Loopback stand-ins for the push providers, checking what the real ones check:
 * - FCM: an OAuth2 token endpoint that verifies the RS256 assertion against the service
 *   account's public key and its claims (iss, scope, aud, exp), and `messages:send` that
 *   checks the bearer token and the message shape, answering 404 UNREGISTERED for chosen tokens;
 * - APNs: TLS + HTTP/2 (certificate from a test CA) verifying the ES256 provider token
 *   (kid, iss, iat), apns-topic, apns-push-type and apns-priority; 410 for chosen tokens;
 * - Web Push: an HTTPS push endpoint that verifies the VAPID JWT (RFC 8292) and decrypts
 *   the aes128gcm payload (RFC 8291) with the subscription's private key.
 * Each records what it accepted, so tests read the pushes as a device would.
 */
import { createECDH, createDecipheriv, createHmac, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import http2 from 'node:http2';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { decodeProtectedHeader, importJWK, jwtVerify } from 'jose';
import type { TestCa } from './test-ca.js';

const FCM_SCOPE = 'https://www.googleapis.com/auth/firebase.messaging';

function readBody(req: http.IncomingMessage | http2.Http2ServerRequest): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function listen(server: http.Server | https.Server | http2.Http2SecureServer): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

function close(server: http.Server | https.Server | http2.Http2SecureServer): Promise<void> {
  return new Promise((resolve) => {
    (server as http.Server).closeAllConnections?.();
    server.close(() => resolve());
  });
}

/** An injected provider answer. */
export interface Fault {
  status: number;
  retryAfter?: string;
}

// ---------------- FCM ----------------

export interface FcmMessage {
  token: string;
  notification?: { title: string; body: string };
  data?: Record<string, string>;
  android?: { priority?: string; collapse_key?: string; ttl?: string };
  apns?: { headers?: Record<string, string>; payload?: { aps?: Record<string, unknown> } };
}

export class FcmStandIn {
  readonly projectId = 'parley-test';
  readonly clientEmail = 'push@parley-test.iam.gserviceaccount.com';
  readonly received: FcmMessage[] = [];
  readonly rejected: { status: number; why: string }[] = [];
  /** Tokens answered 404 UNREGISTERED. */
  readonly unregistered = new Set<string>();
  tokenRequests = 0;
  /** Answers to give to the next messages:send requests instead of handling them (429/5xx tests). */
  readonly faults: Fault[] = [];
  sendRequests = 0;
  private readonly accessTokens = new Set<string>();
  private readonly publicKey: KeyObject;
  private readonly privatePem: string;
  private server!: http.Server;
  baseUrl = '';

  private constructor() {
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    this.publicKey = publicKey;
    this.privatePem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  }

  static async start(): Promise<FcmStandIn> {
    const s = new FcmStandIn();
    s.server = http.createServer((req, res) => void s.handle(req, res));
    s.baseUrl = `http://127.0.0.1:${await listen(s.server)}`;
    return s;
  }

  get tokenUri(): string {
    return `${this.baseUrl}/token`;
  }

  /** Writes the service account JSON file a Parley server is configured with. */
  writeServiceAccount(dir: string): string {
    const file = join(dir, 'fcm-service-account.json');
    writeFileSync(file, JSON.stringify({ type: 'service_account', project_id: this.projectId, client_email: this.clientEmail, private_key: this.privatePem, token_uri: this.tokenUri }));
    return file;
  }

  private refuse(res: http.ServerResponse, status: number, why: string, fcmStatus = 'INVALID_ARGUMENT', errorCode?: string): void {
    this.rejected.push({ status, why });
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: { code: status, message: why, status: fcmStatus, ...(errorCode ? { details: [{ '@type': 'type.googleapis.com/google.firebase.fcm.v1.FcmError', errorCode }] } : {}) } }));
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const body = (await readBody(req)).toString();
    if (req.method === 'POST' && req.url === '/token') return this.token(req, body, res);
    const m = /^\/v1\/projects\/([^/]+)\/messages:send$/.exec(req.url ?? '');
    if (req.method === 'POST' && m) return this.messagesSend(req, m[1]!, body, res);
    this.refuse(res, 404, `no route ${req.method} ${req.url}`, 'NOT_FOUND');
  }

  private async token(req: http.IncomingMessage, body: string, res: http.ServerResponse): Promise<void> {
    this.tokenRequests++;
    if (!String(req.headers['content-type']).startsWith('application/x-www-form-urlencoded')) return this.refuse(res, 400, 'token request is not form-encoded');
    const form = new URLSearchParams(body);
    if (form.get('grant_type') !== 'urn:ietf:params:oauth:grant-type:jwt-bearer') return this.refuse(res, 400, 'bad grant_type');
    try {
      const assertion = form.get('assertion') ?? '';
      if (decodeProtectedHeader(assertion).alg !== 'RS256') throw new Error('assertion is not RS256');
      const { payload } = await jwtVerify(assertion, this.publicKey, { algorithms: ['RS256'], issuer: this.clientEmail, audience: this.tokenUri });
      if (payload.scope !== FCM_SCOPE) throw new Error(`scope ${String(payload.scope)}`);
      if (typeof payload.iat !== 'number' || typeof payload.exp !== 'number' || payload.exp - payload.iat > 3600) throw new Error('exp must be at most iat + 3600');
    } catch (err) {
      return this.refuse(res, 400, `invalid_grant: ${(err as Error).message}`);
    }
    const token = `ya29.${randomBytes(24).toString('base64url')}`;
    this.accessTokens.add(token);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ access_token: token, expires_in: 3599, token_type: 'Bearer' }));
  }

  private messagesSend(req: http.IncomingMessage, project: string, body: string, res: http.ServerResponse): void {
    this.sendRequests++;
    const fault = this.faults.shift();
    if (fault) {
      res.writeHead(fault.status, { 'content-type': 'application/json', ...(fault.retryAfter ? { 'retry-after': fault.retryAfter } : {}) });
      res.end(JSON.stringify({ error: { code: fault.status, status: fault.status === 429 ? 'RESOURCE_EXHAUSTED' : 'UNAVAILABLE', message: 'injected' } }));
      return;
    }
    const auth = req.headers.authorization ?? '';
    if (!auth.startsWith('Bearer ') || !this.accessTokens.has(auth.slice(7))) return this.refuse(res, 401, 'bad bearer token', 'UNAUTHENTICATED');
    if (project !== this.projectId) return this.refuse(res, 403, 'wrong project', 'PERMISSION_DENIED');
    let msg: FcmMessage;
    try {
      msg = (JSON.parse(body) as { message: FcmMessage }).message;
      if (!msg || typeof msg.token !== 'string' || !msg.token) throw new Error('message.token is required');
      if (!msg.notification && !msg.data) throw new Error('message needs notification or data');
      for (const v of Object.values(msg.data ?? {})) if (typeof v !== 'string') throw new Error('data values must be strings');
      if (msg.android?.priority && !['HIGH', 'NORMAL'].includes(msg.android.priority)) throw new Error('android.priority');
    } catch (err) {
      return this.refuse(res, 400, (err as Error).message);
    }
    if (this.unregistered.has(msg.token)) return this.refuse(res, 404, 'Requested entity was not found.', 'NOT_FOUND', 'UNREGISTERED');
    this.received.push(msg);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ name: `projects/${project}/messages/${randomBytes(8).toString('hex')}` }));
  }

  close(): Promise<void> {
    return close(this.server);
  }
}

// ---------------- APNs ----------------

export interface ApnsPush {
  token: string;
  headers: Record<string, string>;
  payload: { aps: Record<string, unknown>; [k: string]: unknown };
}

export class ApnsStandIn {
  readonly keyId = 'ABC123DEFG';
  readonly teamId = 'TEAM123456';
  readonly topic = 'com.example.parley';
  readonly received: ApnsPush[] = [];
  readonly rejected: { status: number; reason: string }[] = [];
  readonly gone = new Set<string>();
  readonly providerTokens = new Set<string>();
  readonly faults: Fault[] = [];
  requests = 0;
  private readonly publicKey: KeyObject;
  readonly keyPem: string;
  private server!: http2.Http2SecureServer;
  url = '';

  private constructor() {
    const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    this.publicKey = publicKey;
    this.keyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  }

  static async start(ca: TestCa): Promise<ApnsStandIn> {
    const s = new ApnsStandIn();
    s.server = http2.createSecureServer({ key: ca.key, cert: ca.cert, allowHTTP1: false });
    s.server.on('stream', (stream, headers) => void s.handle(stream, headers));
    s.url = `https://127.0.0.1:${await listen(s.server)}`;
    return s;
  }

  /** Writes the .p8 key file a Parley server is configured with. */
  writeKey(dir: string): string {
    const file = join(dir, `AuthKey_${this.keyId}.p8`);
    writeFileSync(file, this.keyPem);
    return file;
  }

  private async handle(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of stream) chunks.push(c as Buffer);
    const answer = (status: number, reason?: string) => {
      if (status !== 200) this.rejected.push({ status, reason: reason ?? '' });
      stream.respond({ ':status': status, 'apns-id': randomBytes(16).toString('hex'), ...(reason ? { 'content-type': 'application/json' } : {}) });
      stream.end(reason ? JSON.stringify({ reason, ...(status === 410 ? { timestamp: Date.now() } : {}) }) : undefined);
    };
    this.requests++;
    const fault = this.faults.shift();
    if (fault) {
      stream.respond({ ':status': fault.status, 'content-type': 'application/json', ...(fault.retryAfter ? { 'retry-after': fault.retryAfter } : {}) });
      stream.end(JSON.stringify({ reason: fault.status === 429 ? 'TooManyRequests' : 'ServiceUnavailable' }));
      return;
    }
    const m = /^\/3\/device\/([0-9a-fA-F]+)$/.exec(String(headers[':path']));
    if (headers[':method'] !== 'POST' || !m) return answer(404, 'BadPath');
    const auth = String(headers.authorization ?? '');
    if (!auth.startsWith('bearer ')) return answer(403, 'MissingProviderToken');
    const jwt = auth.slice(7);
    try {
      const h = decodeProtectedHeader(jwt);
      if (h.alg !== 'ES256' || h.kid !== this.keyId) throw new Error('kid');
      const { payload } = await jwtVerify(jwt, this.publicKey, { algorithms: ['ES256'], issuer: this.teamId });
      if (typeof payload.iat !== 'number' || Date.now() / 1000 - payload.iat > 3600) return answer(403, 'ExpiredProviderToken');
    } catch {
      return answer(403, 'InvalidProviderToken');
    }
    this.providerTokens.add(jwt);
    if (headers['apns-topic'] !== this.topic) return answer(400, 'TopicDisallowed');
    const type = headers['apns-push-type'];
    const priority = headers['apns-priority'];
    if (type !== 'alert' && type !== 'background') return answer(400, 'InvalidPushType');
    if (type === 'background' && priority !== '5') return answer(400, 'BadPriority');
    if (priority !== undefined && priority !== '5' && priority !== '10') return answer(400, 'BadPriority');
    let payload: ApnsPush['payload'];
    try {
      payload = JSON.parse(Buffer.concat(chunks).toString()) as ApnsPush['payload'];
      if (!payload.aps || typeof payload.aps !== 'object') throw new Error('no aps');
      if (type === 'background' && (payload.aps['content-available'] !== 1 || payload.aps.alert)) throw new Error('background push must be content-available only');
    } catch {
      return answer(400, 'PayloadEmpty');
    }
    if (this.gone.has(m[1]!)) return answer(410, 'Unregistered');
    const flat: Record<string, string> = {};
    for (const [k, v] of Object.entries(headers)) if (!k.startsWith(':') && typeof v === 'string') flat[k] = v;
    this.received.push({ token: m[1]!, headers: flat, payload });
    answer(200);
  }

  close(): Promise<void> {
    return close(this.server);
  }
}

// ---------------- Web Push ----------------

/** A browser's push subscription, with the private half the browser keeps. */
export interface TestSubscription {
  endpoint: string;
  keys: { p256dh: string; auth: string };
  ecdh: ReturnType<typeof createECDH>;
  authSecret: Buffer;
}

export interface WebPushDelivery {
  endpoint: string;
  headers: Record<string, string>;
  /** The decrypted payload. */
  payload: Record<string, unknown>;
  vapidSubject: string;
}

function hmac(key: Buffer, data: Buffer): Buffer {
  return createHmac('sha256', key).update(data).digest();
}

/** Decrypts an RFC 8291 aes128gcm body (one record) with the user agent's keys. */
export function decryptAes128gcm(body: Buffer, ecdh: ReturnType<typeof createECDH>, authSecret: Buffer): Buffer {
  const salt = body.subarray(0, 16);
  const rs = body.readUInt32BE(16);
  const idlen = body[20]!;
  const asPublic = body.subarray(21, 21 + idlen);
  const ciphertext = body.subarray(21 + idlen);
  if (ciphertext.length > rs) throw new Error('more than one record');
  const uaPublic = ecdh.getPublicKey();
  const ecdhSecret = ecdh.computeSecret(asPublic);
  const prkKey = hmac(authSecret, ecdhSecret);
  const keyInfo = Buffer.concat([Buffer.from('WebPush: info\0'), uaPublic, asPublic]);
  const ikm = hmac(prkKey, Buffer.concat([keyInfo, Buffer.from([1])]));
  const prk = hmac(salt, ikm);
  const cek = hmac(prk, Buffer.from('Content-Encoding: aes128gcm\0\x01')).subarray(0, 16);
  const nonce = hmac(prk, Buffer.from('Content-Encoding: nonce\0\x01')).subarray(0, 12);
  const decipher = createDecipheriv('aes-128-gcm', cek, nonce);
  decipher.setAuthTag(ciphertext.subarray(ciphertext.length - 16));
  const padded = Buffer.concat([decipher.update(ciphertext.subarray(0, ciphertext.length - 16)), decipher.final()]);
  let end = padded.length - 1;
  while (end >= 0 && padded[end] === 0) end--;
  if (padded[end] !== 2) throw new Error('no last-record padding delimiter');
  return padded.subarray(0, end);
}

export class WebPushStandIn {
  readonly received: WebPushDelivery[] = [];
  readonly rejected: { status: number; why: string }[] = [];
  /** Endpoints answered 410 Gone. */
  readonly gone = new Set<string>();
  readonly faults: Fault[] = [];
  requests = 0;
  private readonly subs = new Map<string, TestSubscription>();
  private server!: https.Server;
  origin = '';

  static async start(ca: TestCa): Promise<WebPushStandIn> {
    const s = new WebPushStandIn();
    s.server = https.createServer({ key: ca.key, cert: ca.cert }, (req, res) => void s.handle(req, res));
    s.origin = `https://127.0.0.1:${await listen(s.server)}`;
    return s;
  }

  /** A new subscription, as a browser's PushManager.subscribe gives it. */
  subscribe(): TestSubscription {
    const ecdh = createECDH('prime256v1');
    ecdh.generateKeys();
    const authSecret = randomBytes(16);
    const sub: TestSubscription = {
      endpoint: `${this.origin}/push/${randomBytes(12).toString('hex')}`,
      keys: { p256dh: ecdh.getPublicKey().toString('base64url'), auth: authSecret.toString('base64url') },
      ecdh,
      authSecret,
    };
    this.subs.set(sub.endpoint, sub);
    return sub;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const body = await readBody(req);
    const refuse = (status: number, why: string) => {
      this.rejected.push({ status, why });
      res.writeHead(status, { 'content-type': 'text/plain' });
      res.end(why);
    };
    this.requests++;
    const fault = this.faults.shift();
    if (fault) {
      res.writeHead(fault.status, fault.retryAfter ? { 'retry-after': fault.retryAfter } : {});
      res.end('injected');
      return;
    }
    const endpoint = `${this.origin}${req.url}`;
    const sub = this.subs.get(endpoint);
    if (req.method !== 'POST' || !sub) return refuse(404, 'no such subscription');
    // RFC 8292: Authorization: vapid t=<jwt>, k=<public key>
    const m = /^vapid t=([^,\s]+),\s*k=([A-Za-z0-9_-]+)$/.exec(req.headers.authorization ?? '');
    if (!m) return refuse(401, 'no VAPID authorization');
    let subject: string;
    try {
      const raw = Buffer.from(m[2]!, 'base64url');
      if (raw.length !== 65 || raw[0] !== 4) throw new Error('k is not an uncompressed P-256 point');
      const key = await importJWK({ kty: 'EC', crv: 'P-256', x: raw.subarray(1, 33).toString('base64url'), y: raw.subarray(33).toString('base64url') }, 'ES256');
      const { payload } = await jwtVerify(m[1]!, key, { algorithms: ['ES256'], audience: this.origin });
      if (typeof payload.exp !== 'number' || payload.exp > Date.now() / 1000 + 86400) throw new Error('exp more than 24 h ahead');
      subject = String(payload.sub ?? '');
      if (!/^(mailto:|https:)/.test(subject)) throw new Error('sub must be mailto: or https:');
    } catch (err) {
      return refuse(403, `VAPID: ${(err as Error).message}`);
    }
    if (req.headers.ttl === undefined) return refuse(400, 'TTL header missing');
    if (req.headers['content-encoding'] !== 'aes128gcm') return refuse(415, 'Content-Encoding must be aes128gcm');
    if (this.gone.has(endpoint)) return refuse(410, 'subscription expired');
    let payload: Record<string, unknown>;
    try {
      payload = JSON.parse(decryptAes128gcm(body, sub.ecdh, sub.authSecret).toString()) as Record<string, unknown>;
    } catch (err) {
      return refuse(400, `cannot decrypt: ${(err as Error).message}`);
    }
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') headers[k] = v;
    this.received.push({ endpoint, headers, payload, vapidSubject: subject });
    res.writeHead(201, { location: `${endpoint}/msg/${randomBytes(6).toString('hex')}` });
    res.end();
  }

  close(): Promise<void> {
    return close(this.server);
  }
}
