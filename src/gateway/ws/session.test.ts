import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { WebSocket } from 'ws';
import type { Logger } from '../../logger.js';
import type { Metrics } from '../metrics.js';
import { encodeEvent } from './frame.js';
import { ClientSession } from './session.js';

/** A session on a fake socket: what went out through `ws` and what went straight to the connection. */
function session(maxBufferedBytes = 1_000) {
  const counted = { out: 0, slow: 0 };
  const metrics = { wsEventsOut: { inc: () => void counted.out++ }, wsSlowClosed: { inc: () => void counted.slow++ } } as unknown as Metrics;
  const s = new ClientSession('u1', 's1', { logger: {} as Logger, metrics, limits: { maxBufferedBytes, ping: { max: 1, windowSeconds: 1 }, resume: { max: 1, windowSeconds: 1 } } });
  const sent: string[] = [];
  const raw: Buffer[] = [];
  const closes: [number, string][] = [];
  const tcp = { corks: 0, uncorks: 0 };
  const ws = {
    OPEN: 1,
    readyState: 1,
    bufferedAmount: 0,
    send: (b: Buffer) => void sent.push(b.toString()),
    close: (code: number, reason: string) => void closes.push([code, reason]),
    terminate: () => {},
  };
  s.attach(ws as unknown as WebSocket, {
    cork: () => void tcp.corks++,
    uncork: () => void tcp.uncorks++,
    write: (b: Buffer) => (raw.push(b), true),
  });
  return { s, ws, sent, raw, closes, tcp, counted };
}

const ev = (text: string) => encodeEvent(Buffer.from(text));

test('an encoded event goes straight to the connection as its frame, one cork per turn; before ready it waits, then follows ready', async () => {
  const { s, sent, raw, tcp, counted } = session();
  s.writeEncoded(ev('{"n":1}'));
  assert.deepEqual(raw, [], 'nothing before ready');
  s.ready({ type: 'ready' } as never);
  assert.deepEqual(sent, ['{"type":"ready"}', '{"n":1}'], 'ready first, then what waited (through ws)');
  const e = ev('{"n":2}');
  s.writeEncoded(e);
  s.writeEncoded(ev('{"n":3}'));
  assert.deepEqual(raw, [e.frame, ev('{"n":3}').frame]);
  assert.equal(tcp.corks, 1, 'one cork for the turn');
  await new Promise((r) => process.nextTick(r));
  assert.equal(tcp.uncorks, 1);
  assert.equal(counted.out, 4);
});

test('a connection too far behind is closed (1013) instead of buffering more, whichever path the event takes', () => {
  for (const path of ['encoded', 'plain'] as const) {
    const { s, ws, raw, sent, closes, counted } = session(1_000);
    s.ready({ type: 'ready' } as never);
    ws.bufferedAmount = 990;
    if (path === 'encoded') s.writeEncoded(ev('{"more":"than ten bytes"}'));
    else s.write(Buffer.from('{"more":"than ten bytes"}'));
    assert.deepEqual(closes, [[1013, 'slow consumer']], path);
    assert.equal(counted.slow, 1);
    assert.deepEqual(raw, []);
    assert.deepEqual(sent, ['{"type":"ready"}']);
    s.writeEncoded(ev('{}'));
    assert.deepEqual(raw, [], 'nothing after the close');
  }
});
