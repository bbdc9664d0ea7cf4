import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Emitter, RealtimeConnection, backoffDelay, type WebSocketLike } from './realtime.js';

describe('backoffDelay (full jitter)', () => {
  const opts = { baseMs: 500, capMs: 30_000 };

  test('stays in [0, min(cap, base·2^n)) for every attempt', () => {
    for (let attempt = 0; attempt < 40; attempt++) {
      const ceiling = Math.min(opts.capMs, opts.baseMs * 2 ** attempt);
      assert.equal(backoffDelay(attempt, opts, () => 0), 0);
      const top = backoffDelay(attempt, opts, () => 0.999999);
      assert.ok(top < ceiling && top >= ceiling - 1, `attempt ${attempt}: ${top} vs ${ceiling}`);
      for (let i = 0; i < 50; i++) {
        const d = backoffDelay(attempt, opts);
        assert.ok(d >= 0 && d < ceiling && Number.isInteger(d));
      }
    }
  });

  test('grows exponentially, then is capped', () => {
    const mid = () => 0.5;
    assert.deepEqual([0, 1, 2, 3].map((a) => backoffDelay(a, opts, mid)), [250, 500, 1000, 2000]);
    assert.equal(backoffDelay(6, opts, mid), 15_000);
    assert.equal(backoffDelay(7, opts, mid), 15_000);
    assert.equal(backoffDelay(1000, opts, mid), 15_000);
  });

  test('is spread out (jitter): many clients do not retry at the same instant', () => {
    const delays = new Set(Array.from({ length: 200 }, () => backoffDelay(5, opts)));
    assert.ok(delays.size > 100);
  });
});

describe('Emitter', () => {
  test('typed listeners, off, once with a predicate, a throwing listener does not stop others', async () => {
    const e = new Emitter<{ a: { n: number }; b: string }>();
    const seen: number[] = [];
    const off = e.on('a', (p) => seen.push(p.n));
    e.on('a', () => {
      throw new Error('listener bug');
    });
    const later = e.once('a', (p) => p.n === 3);
    const origError = console.error;
    console.error = () => {};
    try {
      e.emit('a', { n: 1 });
      off();
      e.emit('a', { n: 3 });
    } finally {
      console.error = origError;
    }
    assert.deepEqual(seen, [1]);
    assert.deepEqual(await later, { n: 3 });
  });
});

/** A scripted WebSocket: the test plays the server. */
class FakeSocket implements WebSocketLike {
  static all: FakeSocket[] = [];
  readyState = 0;
  onopen: ((e: unknown) => void) | null = null;
  onclose: ((e: { code: number; reason: string }) => void) | null = null;
  onerror: ((e: unknown) => void) | null = null;
  onmessage: ((e: { data: unknown }) => void) | null = null;
  sent: any[] = [];
  constructor(readonly url: string) {
    FakeSocket.all.push(this);
  }
  send(data: string): void {
    this.sent.push(JSON.parse(data));
  }
  close(code = 1000, reason = ''): void {
    if (this.readyState === 3) return;
    this.readyState = 3;
    this.onclose?.({ code, reason });
  }
  // --- the "server" side
  open(): void {
    this.readyState = 1;
    this.onopen?.({});
  }
  frame(f: object): void {
    this.onmessage?.({ data: JSON.stringify(f) });
  }
  ready(cursor: string): void {
    this.open();
    this.frame({ type: 'ready', user: { id: 'u1' }, sessionId: 's1', cursor, serverTime: new Date().toISOString() });
  }
  drop(code = 1006): void {
    this.readyState = 3;
    this.onclose?.({ code, reason: '' });
  }
  last(type: string): any {
    return [...this.sent].reverse().find((f) => f.type === type);
  }
}

const tick = (ms = 5) => new Promise((r) => setTimeout(r, ms));

/** Waits until `pred` holds (polling), failing after a generous deadline: never a fixed wait. */
async function until(pred: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await tick(2);
  }
}

/** The `n`th socket the connection opened, once it has. */
async function socket(n: number): Promise<FakeSocket> {
  await until(() => FakeSocket.all.length > n, `socket #${n}`);
  return FakeSocket.all[n]!;
}

function connection(extra: Partial<ConstructorParameters<typeof RealtimeConnection>[0]> = {}) {
  FakeSocket.all = [];
  return new RealtimeConnection({
    url: 'ws://x/v1/ws',
    getAccessToken: () => 'tok',
    WebSocketImpl: FakeSocket,
    backoff: { baseMs: 10, capMs: 20, stableMs: 1000 },
    pingIntervalMs: 60_000,
    ...extra,
  });
}

describe('RealtimeConnection', () => {
  test('token in the query, ready → connected; request/response by id; error frames reject', async () => {
    const rt = connection();
    const started = rt.start();
    const s = await socket(0);
    assert.equal(s.url, 'ws://x/v1/ws?token=tok');
    s.ready('C1');
    const ready = await started;
    assert.equal(ready.cursor, 'C1');
    assert.equal(rt.connected, true);
    assert.equal(rt.cursor, 'C1');

    const p = rt.request('read', { conversationId: 'c', seq: 3 });
    const f = s.last('read');
    assert.ok(f.id);
    s.frame({ type: 'ack', id: 'other', lastReadSeq: 1 }); // someone else's reply is not ours
    s.frame({ type: 'ack', id: f.id, lastReadSeq: 3, unreadCount: 0 });
    assert.deepEqual(await p, { type: 'ack', id: f.id, lastReadSeq: 3, unreadCount: 0 });

    const q = rt.request('message.send', { conversationId: 'c', clientMsgId: 'm', text: 'x' });
    s.frame({ type: 'error', id: s.last('message.send').id, code: 'rate_limited', message: 'slow', retryAfter: 2 });
    await assert.rejects(q, (e: any) => e.code === 'rate_limited' && e.retryAfter === 2);
    rt.stop();
  });

  test('reconnects after 1006/1012/1013 and resumes from the last cursor; pending requests fail with disconnected', async () => {
    const rt = connection();
    rt.start().catch(() => {});
    (await socket(0)).ready('C1');
    const inflight = rt.request('message.send', { conversationId: 'c', clientMsgId: 'm', text: 'x' });
    FakeSocket.all[0]!.drop(1006);
    await assert.rejects(inflight, (e: any) => e.code === 'disconnected');
    let n = 1;
    for (const code of [1012, 1013]) {
      const s = await socket(n);
      s.ready(`fresh-${n}`);
      // A reconnect resumes from the old position, not the new connection's fresh cursor.
      const resume = s.last('resume');
      assert.equal(resume.cursor, 'C1');
      assert.equal(rt.resuming, true);
      s.frame({ type: 'pong', cursor: 'too-new' }); // ignored while the replay is pending
      assert.equal(rt.cursor, 'C1');
      s.drop(code);
      n += 1;
    }
    const s = await socket(n);
    s.ready('fresh');
    const resumed = rt.once('resumed');
    s.frame({ type: 'resumed', id: s.last('resume').id, cursor: 'C2' });
    await resumed;
    assert.equal(rt.resuming, false);
    assert.equal(rt.cursor, 'C2');
    s.frame({ type: 'pong', cursor: 'C3' }); // now a pong advances the position
    assert.equal(rt.cursor, 'C3');
    rt.stop();
  });

  test('sync.required: resumes at once and ignores pong cursors until resumed', async () => {
    const rt = connection();
    rt.start().catch(() => {});
    const s = await socket(0);
    s.ready('C1');
    s.frame({ type: 'pong', cursor: 'C2' });
    assert.equal(rt.cursor, 'C2');
    s.frame({ type: 'sync.required' });
    assert.equal(s.last('resume').cursor, 'C2');
    s.frame({ type: 'pong', cursor: 'C3' });
    assert.equal(rt.cursor, 'C2');
    s.frame({ type: 'sync.required' }); // a second one while replaying: replay again afterwards
    assert.equal(s.sent.filter((f) => f.type === 'resume').length, 1);
    s.frame({ type: 'resumed', id: s.last('resume').id, cursor: 'C4' });
    await until(() => s.sent.filter((f) => f.type === 'resume').length === 2, 'the second resume');
    assert.equal(s.last('resume').cursor, 'C4');
    rt.stop();
  });

  test('a resume refused as too frequent goes again after retryAfter, from the same cursor, without resume.failed', async () => {
    const rt = connection();
    const failed: unknown[] = [];
    rt.on('resume.failed', (e) => failed.push(e));
    rt.start().catch(() => {});
    const s = await socket(0);
    s.ready('C1');
    s.frame({ type: 'sync.required' });
    const first = s.last('resume');
    s.frame({ type: 'error', id: first.id, code: 'rate_limited', message: 'Too many resumes.', retryAfter: 1 });
    await until(() => s.sent.filter((f) => f.type === 'resume').length === 2, 'the resume, again');
    assert.equal(s.last('resume').cursor, 'C1');
    s.frame({ type: 'resumed', id: s.last('resume').id, cursor: 'C2' });
    await until(() => rt.cursor === 'C2', 'the cursor of the resume');
    assert.deepEqual(failed, []);
    rt.stop();
  });

  test('1008 (session ended) stops for good and emits session.ended', async () => {
    const rt = connection();
    const ended = rt.once('session.ended');
    rt.start().catch(() => {});
    (await socket(0)).ready('C1');
    FakeSocket.all[0]!.drop(1008);
    await ended;
    await tick(50); // a negative check: no reconnect may follow
    assert.equal(FakeSocket.all.length, 1);
    assert.equal(rt.state, 'closed');
  });

  test('a failed upgrade (e.g. 401) calls onConnectFailed before retrying, with a new token', async () => {
    let token = 'expired';
    let checks = 0;
    const rt = connection({
      getAccessToken: () => token,
      onConnectFailed: async () => {
        checks += 1;
        token = 'refreshed';
      },
    });
    const started = rt.start();
    (await socket(0)).drop(1006); // never opened
    const s = await socket(1);
    assert.equal(checks, 1);
    assert.equal(s.url, 'ws://x/v1/ws?token=refreshed');
    s.ready('C1');
    await started;
    s.drop(1006); // opened before: a network blip, no token check
    await socket(2);
    assert.equal(checks, 1);
    rt.stop();
  });

  test('no pong in time: the socket is replaced', async () => {
    const rt = connection({ pingIntervalMs: 10, pongTimeoutMs: 10 });
    rt.start().catch(() => {});
    (await socket(0)).ready('C1');
    await socket(1); // reconnected
    assert.ok(FakeSocket.all[0]!.sent.some((f) => f.type === 'ping'));
    rt.stop();
  });

  test('a cursor saved from an earlier run: the first connection resumes from it', async () => {
    const rt = connection({ cursor: 'SAVED' });
    rt.start().catch(() => {});
    const s = await socket(0);
    s.ready('fresh');
    assert.equal(s.last('resume').cursor, 'SAVED');
    assert.equal(rt.cursor, 'SAVED');
    rt.stop();
  });

  test('subprotocol transport', async () => {
    FakeSocket.all = [];
    let protocols: unknown;
    class P extends FakeSocket {
      constructor(url: string, p?: string | string[]) {
        super(url);
        protocols = p;
      }
    }
    const rt = new RealtimeConnection({ url: 'ws://x/v1/ws', getAccessToken: () => 'tok', WebSocketImpl: P, tokenTransport: 'protocol' });
    rt.start().catch(() => {});
    await socket(0);
    assert.deepEqual(protocols, ['bearer.tok']);
    assert.equal(FakeSocket.all[0]!.url, 'ws://x/v1/ws');
    rt.stop();
  });
});
