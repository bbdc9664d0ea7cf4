import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { AddressInfo, Socket } from 'node:net';
import * as ws from 'ws';
import WebSocket, { WebSocketServer } from 'ws';
import { encodeEvent } from './frame.js';

type WsSender = new (socket: unknown) => { send(data: Buffer, options: object, cb?: () => void): void };

test('an encoded event is byte for byte the frame ws sends for its payload, at every length form (7-bit, 16-bit, 64-bit)', () => {
  const { Sender } = ws as unknown as { Sender: WsSender };
  for (const n of [0, 1, 125, 126, 65_535, 65_536, 200_000]) {
    const chunks: Buffer[] = [];
    const socket = { cork() {}, uncork() {}, write: (c: Buffer, cb?: () => void) => (chunks.push(Buffer.from(c)), cb?.(), true) };
    const payload = Buffer.from('é'.repeat(n)).subarray(0, n);
    // What WebSocket#send hands its sender on a server connection without compression.
    new Sender(socket).send(payload, { binary: false, fin: true, mask: false, compress: false });
    assert.deepEqual(encodeEvent(payload).frame, Buffer.concat(chunks), `${n} bytes`);
    assert.equal(encodeEvent(payload).payload, payload);
  }
});

test('a ws client reads an encoded event written straight to the socket as that text message, between frames sent by ws', async () => {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: false });
  await once(wss, 'listening');
  try {
    const client = new WebSocket(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}`);
    const [server] = (await once(wss, 'connection')) as [WebSocket];
    await once(client, 'open');
    const got: string[] = [];
    const all = new Promise<void>((resolve) => client.on('message', (d: Buffer, binary: boolean) => (got.push(`${binary}:${d.toString()}`), got.length === 3 && resolve())));
    server.send('{"n":1}');
    (server as unknown as { _socket: Socket })._socket.write(encodeEvent(Buffer.from('{"n":2}')).frame);
    server.send('{"n":3}');
    await all;
    assert.deepEqual(got, ['false:{"n":1}', 'false:{"n":2}', 'false:{"n":3}']);
    client.close();
  } finally {
    wss.close();
  }
});
