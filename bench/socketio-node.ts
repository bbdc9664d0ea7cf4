/**
 * One Socket.IO 4.8 node of bench/fanout.ts's Socket.IO peer, run as its own process (two
 * of them share a room through `@socket.io/redis-adapter`, as a deployment would run it):
 *
 *   node --import tsx bench/socketio-node.ts   (env: PORT, REDIS_URL, REDIS_KEY, JWT_SECRET)
 *
 * A socket authenticates with an HS256 JWT in its handshake `auth.token` (verified like
 * Parley's and Centrifugo's tokens), joins the room named in `auth.room` and gets `ready`.
 * `send` (with an ack) broadcasts the message to the room on every node, then acks.
 * Prints `listening <port>` on stdout once it accepts connections.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import { jwtVerify } from 'jose';
import { Server } from 'socket.io';
import { createAdapter } from '@socket.io/redis-adapter';

const env = (name: string): string => {
  const v = process.env[name];
  if (!v) throw new Error(`socketio-node: ${name} is required`);
  return v;
};

const secret = new TextEncoder().encode(env('JWT_SECRET'));
const pub = new Redis(env('REDIS_URL'), { lazyConnect: false, maxRetriesPerRequest: 3 });
const sub = pub.duplicate();
const server = http.createServer();
const io = new Server(server, {
  transports: ['websocket'],
  perMessageDeflate: false,
  serveClient: false,
  adapter: createAdapter(pub, sub, { key: env('REDIS_KEY') }),
});

io.use((socket, next) => {
  const { token } = socket.handshake.auth as { token?: unknown };
  if (typeof token !== 'string') return next(new Error('unauthorized'));
  jwtVerify(token, secret, { algorithms: ['HS256'] }).then(
    ({ payload }) => {
      socket.data.userId = payload.sub;
      next();
    },
    () => next(new Error('unauthorized')),
  );
});

io.on('connection', (socket) => {
  const { room } = socket.handshake.auth as { room?: unknown };
  if (typeof room === 'string') void socket.join(room);
  socket.emit('ready');
  socket.on('send', (msg: { conversationId?: unknown }, ack?: (r: unknown) => void) => {
    if (typeof msg?.conversationId !== 'string' || !socket.rooms.has(msg.conversationId)) {
      ack?.({ error: 'not in room' });
      return;
    }
    io.to(msg.conversationId).emit('message.new', msg);
    ack?.({ ok: true });
  });
});

server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  console.log(`listening ${(server.address() as AddressInfo).port}`);
});

const stop = (): void => {
  io.close();
  pub.disconnect();
  sub.disconnect();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.on('disconnect', stop);
