/**
 * Fuzzing at the edge: fast-check properties over every route the server describes in
 * `/openapi.json` (path params, query strings and bodies) and over every WebSocket frame
 * type, against the real server. Values mix well-formed ones (real ids, values inside the
 * schema) with NULs, huge and odd numbers, wrong types and Unicode edge cases. Any 5xx
 * answer or `internal` error frame fails the test. Runs are bounded: FUZZ_RUNS per route
 * and per frame type (default 40); a failure prints the seed to replay it (FUZZ_SEED).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { SQL_BACKENDS, call, signup, startTestServer, type TestServer, type TestUser } from './harness.js';
import { WsTestClient } from './support/ws-client.js';
import { newId } from '../src/ids.js';

const RUNS = Number(process.env.FUZZ_RUNS ?? 40);
const SEED = process.env.FUZZ_SEED === undefined ? undefined : Number(process.env.FUZZ_SEED);
const fcOptions = (runs = RUNS) => ({ numRuns: runs, endOnFailure: true, includeErrorInReport: true, ...(SEED === undefined ? {} : { seed: SEED }) });

type Schema = Record<string, any>;

/** Strings that broke something somewhere: NULs, lone surrogates, BOMs, RTL, huge, path tricks. */
const nastyString = fc.oneof(
  fc.constantFrom(
    '',
    '\u0000',
    'a\u0000b',
    '\u0000'.repeat(40),
    '\uD800',
    '\uDFFF',
    'x\uD83D',
    '\uFEFF',
    '\u202Eevil',
    '\uFFFF\uFFFE',
    '😀'.repeat(50),
    'e\u0301\u0301\u0301',
    '%00',
    '../../etc/passwd',
    '..%2f..%2f',
    "' OR 1=1 --",
    '$where',
    '{"$gt":""}',
    '\\',
    '\r\n',
    ' ',
    'null',
    '-0',
    '1e309',
    '99999999999999999999',
    '9223372036854775808',
    '-9223372036854775809',
    '0x10',
    'NaN',
    'x'.repeat(300),
    'x'.repeat(5000),
  ),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
);

const nastyNumber = fc.oneof(
  fc.constantFrom(0, -0, -1, 1, 2 ** 31, 2 ** 32, 2 ** 53, 2 ** 53 + 2, 2 ** 63, 2 ** 64, 1e20, 1e308, -1e308, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER, 0.5, 1e-300),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
);

/** Any JSON value of the wrong type for most fields. */
const nastyValue: fc.Arbitrary<unknown> = fc.oneof(
  nastyString,
  nastyNumber,
  fc.constantFrom(null, true, false, [], {}, [null], { $gt: '' }, { __proto__: { x: 1 } }),
  fc.array(nastyString, { maxLength: 3 }),
  fc.dictionary(nastyString, nastyString, { maxKeys: 3 }),
);

interface Pools {
  ids: string[];
}

/** A value the schema probably accepts (real ids where ids go), so fuzzing reaches the services. */
function validFor(schema: Schema, pools: Pools, depth = 0): fc.Arbitrary<unknown> {
  if (schema.anyOf) return fc.oneof(...(schema.anyOf as Schema[]).map((s) => validFor(s, pools, depth)));
  if (schema.enum) return fc.constantFrom(...(schema.enum as unknown[]));
  if (schema.const !== undefined) return fc.constant(schema.const);
  const nullable = schema.nullable ? (a: fc.Arbitrary<unknown>) => fc.oneof(a, fc.constant(null)) : (a: fc.Arbitrary<unknown>) => a;
  switch (schema.type) {
    case 'string': {
      if (schema.pattern === '^[0-9a-f]{32}$') return nullable(fc.oneof(fc.constantFrom(...pools.ids), fc.constant(newId())));
      if (schema.format === 'email') return nullable(fc.emailAddress());
      if (typeof schema.pattern === 'string' && schema.pattern.startsWith('^[0-9a-f]{32}(')) return fc.subarray(pools.ids, { minLength: 1 }).map((a) => a.join(','));
      const min = schema.minLength ?? 0;
      const max = Math.min(schema.maxLength ?? 64, 300);
      return nullable(fc.oneof(fc.stringMatching(/^[a-z0-9_.]{3,20}$/), fc.string({ minLength: min, maxLength: max, unit: 'grapheme' })));
    }
    case 'integer':
    case 'number': {
      const min = schema.minimum ?? -1e6;
      const max = Math.min(schema.maximum ?? 1e6, Number.MAX_SAFE_INTEGER);
      return nullable(fc.oneof(fc.integer({ min: Math.max(min, Number.MIN_SAFE_INTEGER), max }), fc.constantFrom(min, max)));
    }
    case 'boolean':
      return nullable(fc.boolean());
    case 'array':
      return nullable(fc.array(depth > 4 ? nastyValue : validFor(schema.items ?? {}, pools, depth + 1), { maxLength: Math.min(schema.maxItems ?? 5, 5) }));
    case 'object': {
      const props = (schema.properties ?? {}) as Record<string, Schema>;
      const required = new Set<string>(schema.required ?? []);
      const rec: Record<string, fc.Arbitrary<unknown>> = {};
      for (const [k, s] of Object.entries(props)) rec[k] = depth > 4 ? nastyValue : fuzzed(s, pools, depth + 1);
      // Optional keys come and go; required ones are there (their values may still be wrong).
      return nullable(fc.record(rec, { requiredKeys: Object.keys(props).filter((k) => required.has(k)) }));
    }
    default:
      return nastyValue;
  }
}

/** Mostly valid for the schema, often nasty: the mix that finds what validation lets through. */
function fuzzed(schema: Schema, pools: Pools, depth = 0): fc.Arbitrary<unknown> {
  return fc.oneof({ weight: 3, arbitrary: validFor(schema, pools, depth) }, { weight: 2, arbitrary: nastyValue });
}

/** Percent-encodes any string, lone surrogates included (as the raw bytes a broken client would send). */
function encodeAny(s: string): string {
  try {
    return encodeURIComponent(s);
  } catch {
    return [...s].map((ch) => (/^[A-Za-z0-9]$/.test(ch) ? ch : [...Buffer.from(ch, 'utf16le')].map((b) => `%${b.toString(16).padStart(2, '0')}`).join(''))).join('');
  }
}

interface Route {
  method: string;
  path: string;
  params: string[];
  query: [string, Schema][];
  body: Schema | null;
  /** Statuses the route documents as an HTML page (a page behind an emailed link). */
  htmlStatuses: Set<string>;
}

function routesOf(openapi: any): Route[] {
  const routes: Route[] = [];
  for (const [path, methods] of Object.entries<any>(openapi.paths)) {
    for (const [method, op] of Object.entries<any>(methods)) {
      const parameters = (op.parameters ?? []) as { in: string; name: string; schema: Schema }[];
      routes.push({
        method: method.toUpperCase(),
        path,
        params: parameters.filter((p) => p.in === 'path').map((p) => p.name),
        query: parameters.filter((p) => p.in === 'query').map((p) => [p.name, p.schema]),
        body: op.requestBody?.content?.['application/json']?.schema ?? null,
        htmlStatuses: new Set(Object.entries<any>(op.responses ?? {}).filter(([, r]) => r?.content?.['text/html']).map(([status]) => status)),
      });
    }
  }
  return routes;
}

const stringify = (v: unknown) => (typeof v === 'string' ? v : JSON.stringify(v) ?? '');

for (const backend of SQL_BACKENDS) {
  describe(`fuzz (${backend})`, () => {
    let s: TestServer;
    let alice: TestUser;
    let bob: TestUser;
    let cid: string;
    let gid: string;
    let mid: string;
    const pools: Pools = { ids: [] };

    before(async () => {
      s = await startTestServer({ sql: backend, env: { RATE_LIMIT_WS_SEND: '100000/60s', RATE_LIMIT_WS_TYPING: '100000/60s' } });
      alice = await signup(s.url, 'alice');
      bob = await signup(s.url, 'bob');
      cid = (await call(s.url, 'POST', '/v1/conversations', { token: alice.accessToken, body: { type: 'direct', userId: bob.id } })).body.id;
      gid = (await call(s.url, 'POST', '/v1/conversations', { token: alice.accessToken, body: { type: 'group', title: 'fuzz', memberIds: [bob.id] } })).body.id;
      mid = (await call(s.url, 'POST', `/v1/conversations/${cid}/messages`, { token: alice.accessToken, body: { clientMsgId: 'seed', text: 'hello' } })).body.id;
      const media = await call(s.url, 'POST', '/v1/media/uploads', { token: alice.accessToken, body: { filename: 'a.png', contentType: 'image/png', size: 10 } });
      pools.ids.push(alice.id, bob.id, cid, gid, mid, media.body.mediaId);
    });
    after(() => s.stop());

    /** A token for the next request: logout spends its session, so it gets one of its own. */
    async function tokenFor(route: Route): Promise<string> {
      if (route.path !== '/v1/auth/logout') return alice.accessToken;
      const r = await call(s.url, 'POST', '/v1/auth/login', { body: { login: bob.username, password: bob.password } });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      return r.body.accessToken;
    }

    test('every REST route in /openapi.json: no 5xx on any params, query or body', async (t) => {
      const openapi = (await call(s.url, 'GET', '/openapi.json')).body;
      const routes = routesOf(openapi);
      assert.ok(routes.length >= 25, `only ${routes.length} routes described`);
      let requests = 0;
      for (const route of routes) {
        const paramArb = fc.record(
          Object.fromEntries(route.params.map((p) => [p, fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...pools.ids, '👍', 'x') }, { weight: 2, arbitrary: nastyString })])),
        );
        const queryArb = fc.record(Object.fromEntries(route.query.map(([n, sch]) => [n, fuzzed(sch, pools)])), { requiredKeys: [] });
        const bodyArb = route.body
          ? fc.oneof(
              { weight: 6, arbitrary: fuzzed(route.body, pools) },
              { weight: 1, arbitrary: fc.constantFrom('{', '[1,', '{"a":', '"\\u0000"', '{"__proto__":{"admin":true}}', '['.repeat(5000) + ']'.repeat(5000)).map((raw) => ({ raw })) },
            )
          : fc.constant(undefined);
        await fc.assert(
          fc.asyncProperty(paramArb, queryArb, bodyArb, async (params, query, body) => {
            let path = route.path;
            for (const [k, v] of Object.entries(params)) path = path.replace(`{${k}}`, encodeAny(String(v)));
            const qs = Object.entries(query)
              .filter(([, v]) => v !== undefined)
              .map(([k, v]) => `${k}=${encodeAny(stringify(v))}`)
              .join('&');
            const raw = body && typeof body === 'object' && 'raw' in body ? (body as { raw: string }).raw : undefined;
            requests += 1;
            const r = await call(s.url, route.method, qs ? `${path}?${qs}` : path, {
              token: await tokenFor(route),
              ...(raw !== undefined ? { rawBody: raw } : body !== undefined ? { rawBody: JSON.stringify(body) ?? 'null' } : {}),
            });
            assert.ok(r.status < 500, `${route.method} ${path}?${qs} ${raw ?? JSON.stringify(body)?.slice(0, 500)} -> ${r.status} ${JSON.stringify(r.body)}`);
            // An HTML error page only where the route documents one; everything else is a JSON error.
            if (r.status >= 400 && r.headers.get('content-type')?.startsWith('text/html')) {
              assert.ok(route.htmlStatuses.has(String(r.status)), `${route.method} ${route.path}: an undocumented HTML ${r.status}`);
              return;
            }
            if (r.status >= 400) assert.equal(typeof r.body?.error?.code, 'string', `${route.method} ${route.path}: error body ${JSON.stringify(r.body)}`);
          }),
          fcOptions(),
        );
      }
      t.diagnostic(`${requests} requests over ${routes.length} routes`);
      assert.equal((await call(s.url, 'GET', '/healthz')).status, 200);
    });

    test('every WebSocket frame type: never an internal error frame', async (t) => {
      let ws = await WsTestClient.connect(s.wsUrl, alice.accessToken);
      const str = (a: fc.Arbitrary<unknown>) => fc.oneof({ weight: 3, arbitrary: a }, { weight: 2, arbitrary: nastyValue });
      const idArb = str(fc.constantFrom(...pools.ids));
      const fields: Record<string, fc.Arbitrary<unknown>> = {
        conversationId: idArb,
        clientMsgId: str(fc.stringMatching(/^[a-z0-9]{1,20}$/)),
        text: str(fc.string({ maxLength: 200, unit: 'grapheme' })),
        attachments: str(fc.array(idArb, { maxLength: 3 })),
        replyToId: idArb,
        seq: str(fc.integer({ min: 0, max: 1000 })),
        cursor: str(fc.constant('')),
        conversations: str(fc.dictionary(fc.constantFrom(...pools.ids), fc.oneof(fc.integer({ min: 0, max: 5 }), nastyNumber), { maxKeys: 3 })),
        callId: idArb,
        to: idArb,
        data: nastyValue,
      };
      const types = ['message.send', 'read', 'typing', 'resume', 'call.signal', 'ping'];
      let frames = 0;
      const closes: number[] = [];
      const runs = async (type: fc.Arbitrary<unknown>, n: number) =>
        fc.assert(
          fc.asyncProperty(type, fc.record(fields, { requiredKeys: [] }), fc.oneof({ weight: 5, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.oneof(nastyString, fc.constant('x'.repeat(70_000))).map((raw) => ({ raw })) }), async (ty, rest, raw) => {
            if (ws.closeCode !== null) ws = await WsTestClient.connect(s.wsUrl, alice.accessToken);
            const before = ws.frames.length;
            const fuzzId = `z${frames++}`;
            ws.send(raw ? raw.raw : { ...rest, type: ty, id: fuzzId });
            // A barrier behind it in the connection's queue: its reply means the fuzzed frame was handled.
            const barrier = `b${frames}`;
            ws.send({ type: 'read', id: barrier, conversationId: cid, seq: 0 });
            // Or the server closed the socket (1009 for a frame over the size limit): reconnect next run.
            const closed = new Promise<void>((resolve) => (ws.closeCode !== null ? resolve() : ws.ws.once('close', () => resolve())));
            const answered = ws.waitFor((f) => f.id === barrier, 30_000);
            answered.catch(() => {});
            await Promise.race([answered, closed]);
            if (ws.closeCode !== null) closes.push(ws.closeCode);
            const internal = ws.frames.slice(before).find((f) => f.type === 'error' && f.code === 'internal');
            assert.equal(internal, undefined, `${JSON.stringify(raw ?? { ...rest, type: ty }).slice(0, 500)} -> ${JSON.stringify(internal)}`);
          }),
          fcOptions(n),
        );
      try {
        for (const type of types) await runs(fc.constant(type), RUNS);
        await runs(nastyValue, Math.ceil(RUNS / 2));
      } finally {
        ws.close();
      }
      t.diagnostic(`${frames} frames, connections closed by the server with ${JSON.stringify(closes)}`);
      assert.equal((await call(s.url, 'GET', '/healthz')).status, 200);
    });
  });
}
