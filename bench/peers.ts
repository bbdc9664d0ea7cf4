/**
 * The peers of bench/fanout.ts: minimal `ws` broadcast servers that speak just enough of
 * Parley's protocol (docs/websocket.md) for the same client harness to drive them — `ready`
 * on connect, `message.send` → `message.new` to every connection, then `ack` to the sender —
 * with no authentication, validation, persistence or pub/sub. They build a message of the
 * same shape (and so about the same size) as Parley's.
 *
 * - `naive`: JSON.stringify the event once per recipient (the usual first version).
 * - `once`: JSON.stringify once, Buffer.from once, the same bytes to every socket: the upper
 *   bound for Parley's hot path, which does the same after storing the message.
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket, type RawData } from 'ws';

export type PeerKind = 'naive' | 'once';

export interface Peer {
  wsUrl: string;
  stop(): Promise<void>;
}

interface SendFrame {
  type: string;
  id?: string;
  conversationId?: string;
  clientMsgId?: string;
  text?: string | null;
}

export async function startPeer(kind: PeerKind): Promise<Peer> {
  const server = http.createServer((_req, res) => res.writeHead(404).end());
  const wss = new WebSocketServer({ server, path: '/v1/ws', perMessageDeflate: false, maxPayload: 64 * 1024 });
  // One room: every connection is a member of the one conversation of the benchmark.
  const room = new Set<WebSocket>();
  let seq = 0;

  wss.on('connection', (ws, req) => {
    const userId = new URL(req.url ?? '/', 'http://x').searchParams.get('token') ?? randomUUID();
    room.add(ws);
    ws.on('close', () => room.delete(ws));
    ws.on('error', () => {});
    ws.on('message', (data: RawData, isBinary: boolean) => {
      if (isBinary) return;
      const f = JSON.parse(data.toString()) as SendFrame;
      if (f.type !== 'message.send' || !f.conversationId || !f.clientMsgId) return;
      seq += 1;
      const message = {
        id: randomUUID(),
        conversationId: f.conversationId,
        seq,
        rev: 1,
        senderId: userId,
        clientMsgId: f.clientMsgId,
        kind: 'user',
        text: f.text ?? null,
        attachments: [],
        mentions: [],
        reactions: {},
        createdAt: new Date().toISOString(),
      };
      const event = { type: 'message.new', message };
      if (kind === 'naive') {
        for (const c of room) if (c.readyState === c.OPEN) c.send(JSON.stringify(event));
      } else {
        const bytes = Buffer.from(JSON.stringify(event));
        for (const c of room) if (c.readyState === c.OPEN) c.send(bytes, { binary: false });
      }
      ws.send(JSON.stringify({ type: 'ack', ...(f.id !== undefined ? { id: f.id } : {}), message }));
    });
    ws.send(JSON.stringify({ type: 'ready', user: { id: userId }, serverTime: new Date().toISOString() }));
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    wsUrl: `ws://127.0.0.1:${port}/v1/ws`,
    async stop() {
      for (const c of wss.clients) c.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
