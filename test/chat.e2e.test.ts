/**
 * End-to-end: several SDK clients (`sdk/`) against the real server over the network, on
 * both SQL backends. What must hold: real-time delivery in seq order, exactly-once sends
 * (REST and WebSocket racing with one clientMsgId, the outbox across disconnections and
 * lost acks), a reconnecting client converging to exactly the server's state, and gaps
 * detected and filled.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { SQL_BACKENDS, signup, startTestServer, type TestServer, type TestUser } from './harness.js';
import { ParleyClient, ParleyError, RestClient, type Message, type ParleyClientOptions, type WebSocketLike } from '../sdk/index.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(pred: () => boolean, what: string, timeoutMs = 8000): Promise<void> {
  const start = Date.now();
  while (!pred()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for: ${what}`);
    await sleep(10);
  }
}

const seqs = (ms: readonly Message[]) => ms.map((m) => m.seq);
const oneTo = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

/**
 * A `ws` WebSocket behind the SDK's WebSocketLike interface, with a tap on incoming frames:
 * the tap may drop a frame (a lost event) or cut the connection (a network failure).
 */
function tappedWebSocket(tap: (frame: any, ws: WebSocket) => boolean) {
  const sockets: WebSocket[] = [];
  class Tapped implements WebSocketLike {
    private readonly ws: WebSocket;
    onopen: ((e: unknown) => void) | null = null;
    onclose: ((e: { code: number; reason: string }) => void) | null = null;
    onerror: ((e: unknown) => void) | null = null;
    onmessage: ((e: { data: unknown }) => void) | null = null;
    constructor(url: string, protocols?: string | string[]) {
      this.ws = new WebSocket(url, protocols);
      sockets.push(this.ws);
      this.ws.onopen = (e) => this.onopen?.(e);
      this.ws.onerror = (e) => this.onerror?.(e);
      this.ws.onclose = (e) => this.onclose?.({ code: e.code, reason: e.reason });
      this.ws.onmessage = (e) => {
        if (tap(JSON.parse(String(e.data)), this.ws)) this.onmessage?.({ data: e.data });
      };
    }
    get readyState(): number {
      return this.ws.readyState;
    }
    send(data: string): void {
      this.ws.send(data);
    }
    close(code?: number, reason?: string): void {
      this.ws.close(code, reason);
    }
  }
  return { Impl: Tapped, sockets };
}

// The backends run side by side (each on its own server); tests within one run in turn.
describe('chat end to end with SDK clients', { concurrency: true }, () => {
  for (const backend of SQL_BACKENDS) {
    describe(`chat end to end with SDK clients (${backend})`, { concurrency: 1 }, () => {
      let s: TestServer;
      const clients: ParleyClient[] = [];

      before(async () => {
        s = await startTestServer({ sql: backend });
      });
      after(async () => {
        for (const c of clients) c.disconnect();
        await s?.stop();
      });

      function client(u: TestUser, extra: Partial<ParleyClientOptions> = {}): ParleyClient {
        const c = new ParleyClient({
          baseUrl: s.url,
          tokens: { accessToken: u.accessToken, refreshToken: u.refreshToken },
          WebSocketImpl: WebSocket,
          backoff: { baseMs: 50, capMs: 300, stableMs: 2000 },
          ...extra,
        });
        clients.push(c);
        return c;
      }

      /** Message events a client emitted for one conversation, in emission order. */
      function record(c: ParleyClient, conversationId: string) {
        const news: Message[] = [];
        const changes: string[] = [];
        c.on('message.new', ({ message }) => message.conversationId === conversationId && news.push(message));
        for (const t of ['message.updated', 'message.deleted', 'reaction.updated'] as const) {
          c.on(t, (e: any) => (e.message?.conversationId ?? e.conversationId) === conversationId && changes.push(t));
        }
        return { news, changes };
      }

      /** The whole history of a conversation, as a fresh client would page through it. */
      async function history(rest: RestClient, conversationId: string): Promise<Message[]> {
        const out: Message[] = [];
        let after = 0;
        for (;;) {
          const page = await rest.listMessages(conversationId, { after, limit: 3 }); // small pages: paging is exercised too
          out.push(...page.messages);
          if (!page.hasMore) return out;
          after = page.messages[page.messages.length - 1]!.seq;
        }
      }

      /** Three connected users and their group (created after they connected, so they see seq 1). */
      async function groupOfThree(title: string) {
        const users = await Promise.all(['ann', 'ben', 'cat'].map((n) => signup(s.url, n)));
        const cs = users.map((u) => client(u));
        await Promise.all(cs.map((c) => c.connect()));
        const [a, b, c] = cs as [ParleyClient, ParleyClient, ParleyClient];
        const conv = await a.rest.createGroup({ title, memberIds: [users[1]!.id, users[2]!.id] });
        await until(() => cs.every((x) => x.store.messages(conv.id).length === 1), 'everyone sees the group being created');
        return { users, a, b, c, cid: conv.id };
      }

      test('a group of three chats in real time: everyone sees every message, in order, seq 1..n', async () => {
        const { a, b, c, cid } = await groupOfThree('Three');
        const logs = [a, b, c].map((x) => record(x, cid));
        const sends = [];
        for (let i = 0; i < 4; i++) {
          for (const [name, x] of [['a', a], ['b', b], ['c', c]] as const) sends.push((await x.sendMessage(cid, { text: `${name}${i}` })).delivered);
        }
        const delivered = await Promise.all(sends);
        assert.equal(new Set(delivered.map((m) => m.seq)).size, 12);
        const n = 13; // the "created" system message, then 12
        await until(() => logs.every((l) => l.news.length === n - 1), 'every client got every message');
        const server = await history(a.rest, cid);
        assert.deepEqual(seqs(server), oneTo(n));
        for (const [i, x] of [a, b, c].entries()) {
          assert.deepEqual(seqs(logs[i]!.news), oneTo(n).slice(1), 'message.new events in seq order, each once');
          assert.deepEqual(x.store.messages(cid), server, 'each view equals the server history');
          assert.equal(x.store.contiguousSeq(cid), n);
        }
        // Each sender's own messages are in the order it wrote them.
        for (const name of ['a', 'b', 'c']) {
          const mine = server.filter((m) => m.text?.startsWith(name)).map((m) => m.text);
          assert.deepEqual(mine, [0, 1, 2, 3].map((i) => `${name}${i}`));
        }
        for (const x of [a, b, c]) assert.equal(x.outbox.pending().length, 0);
      });

      test('one clientMsgId sent over REST and WebSocket at once stores one message', async () => {
        const { a, cid } = await groupOfThree('Dup');
        for (let round = 0; round < 5; round++) {
          const clientMsgId = `dup-${round}-${Math.random().toString(36).slice(2)}`;
          const [viaRest, viaWs, viaOutbox] = await Promise.all([
            a.rest.sendMessage(cid, { clientMsgId, text: `once ${round}` }),
            a.realtime.request('message.send', { conversationId: cid, clientMsgId, text: `once ${round}` }),
            a.sendMessage(cid, { clientMsgId, text: `once ${round}` }).then((q) => q.delivered),
          ]);
          assert.ok(viaWs.message);
          assert.equal(viaRest.id, viaWs.message.id);
          assert.equal(viaRest.id, viaOutbox.id);
          assert.equal(viaRest.seq, viaWs.message.seq);
        }
        const server = await history(a.rest, cid);
        assert.deepEqual(seqs(server), oneTo(6));
        assert.equal(new Set(server.map((m) => m.clientMsgId)).size, 6);
        await a.settled();
        assert.equal(a.store.messages(cid).length, 6);
      });

      test('a client offline while others send, edit, delete, react and change the group catches up to an identical view', async () => {
        const { users, a, b, c, cid } = await groupOfThree('Before');
        const m1 = await (await a.sendMessage(cid, { text: 'one' })).delivered;
        const m2 = await (await a.sendMessage(cid, { text: 'two' })).delivered;
        const m3 = await (await b.sendMessage(cid, { text: 'three' })).delivered;
        const m4 = await (await c.sendMessage(cid, { text: 'four @' + users[0]!.username })).delivered;
        await a.rest.addReaction(cid, m4.id, '👀');
        await until(() => c.store.message(cid, m4.seq)?.reactions['👀'] !== undefined, 'c sees the first reaction');

        c.disconnect();
        const log = record(c, cid);
        const m5 = await (await a.sendMessage(cid, { text: 'five' })).delivered;
        await b.rest.editMessage(cid, m3.id, 'three, edited');
        await a.rest.deleteMessage(cid, m2.id);
        await b.rest.addReaction(cid, m1.id, '👍');
        await a.rest.addReaction(cid, m1.id, '👍');
        await a.rest.removeReaction(cid, m4.id, '👀');
        await a.rest.editMessage(cid, m5.id, 'five, edited');
        await a.rest.editMessage(cid, m5.id, 'five, edited twice');
        await b.sendMessage(cid, { text: 'six', replyToId: m5.id });
        await c.rest.markRead(cid, m4.seq); // REST works while the socket is down
        const dan = await signup(s.url, 'dan');
        await a.rest.addMembers(cid, [dan.id]);
        await a.rest.updateConversation(cid, { title: 'After' });
        await a.rest.deleteMessage(cid, m4.id); // owner moderates c's message
        const server = await history(a.rest, cid);
        assert.notDeepEqual(c.store.messages(cid), server);

        const resumed = c.once('resumed'); // the client's: replay applied, holes filled
        await c.connect();
        await resumed;
        assert.deepEqual(c.store.messages(cid), server, 'identical to a fresh GET of the history');
        assert.deepEqual(await history(c.rest, cid), server);
        assert.equal(c.store.conversation(cid)?.title, 'After');
        assert.equal(c.store.contiguousSeq(cid), server.length);
        const tomb = c.store.message(cid, m2.seq)!;
        assert.equal(tomb.text, null);
        assert.ok(tomb.deletedAt);
        assert.deepEqual(c.store.message(cid, m1.seq)!.reactions['👍']!.sort(), [users[0]!.id, users[1]!.id].sort());
        assert.ok(c.store.message(cid, m5.seq)!.editedAt);
        // New messages came as message.new in seq order; changes to held ones as updates.
        assert.deepEqual(seqs(log.news), oneTo(server.length).slice(m4.seq));
        assert.ok(log.changes.includes('message.deleted') && log.changes.includes('message.updated'));
      });

      test('a missed message.new is detected by seq and fetched: the client ends with seq 1..n, in order', async () => {
        const { users, a, cid } = await groupOfThree('Gap');
        // A fourth member whose socket loses one event.
        let dropped = 0;
        const tap = tappedWebSocket((f) => {
          if (f.type === 'message.new' && f.message.text === 'drop me' && dropped === 0) {
            dropped += 1;
            return false;
          }
          return true;
        });
        const dora = await signup(s.url, 'dora');
        const d = client(dora, { WebSocketImpl: tap.Impl });
        await d.connect();
        await a.rest.addMembers(cid, [dora.id]);
        await until(() => d.store.contiguousSeq(cid) !== undefined, 'd knows the conversation');
        const log = record(d, cid);
        const filled: number[] = [];
        d.on('gap.filled', (e) => e.conversationId === cid && filled.push(e.count));
        for (const text of ['before', 'drop me', 'after', 'later']) await (await a.sendMessage(cid, { text })).delivered;
        const server = await history(a.rest, cid);
        await until(() => d.store.messages(cid).length >= server.length - 1 && filled.length > 0, 'the gap is filled');
        await d.settled();
        assert.equal(dropped, 1, 'the event was really lost');
        // One fetch: the missing message, the one that revealed the gap, and any sent meanwhile.
        assert.equal(filled.length, 1);
        assert.ok(filled[0]! >= 2);
        // d joined at seq 3 (member.added system message); everything after it, in order, once.
        const joinedAt = server.find((m) => m.system?.action === 'member.added')!.seq;
        assert.deepEqual(seqs(log.news), oneTo(server.length).slice(joinedAt));
        assert.deepEqual(d.store.messages(cid), server.slice(joinedAt - 1));
        assert.equal(d.store.contiguousSeq(cid), server.length);
        assert.equal(users.length, 3);
      });

      test('outbox: messages written offline are delivered exactly once when the connection returns', async () => {
        const { a, c, cid } = await groupOfThree('Offline');
        const seenByA = record(a, cid);
        c.disconnect();
        const queued = [];
        for (const text of ['o1', 'o2', 'o3']) queued.push(await c.sendMessage(cid, { text }));
        assert.equal(c.outbox.pending().length, 3);
        await sleep(150);
        assert.equal((await history(a.rest, cid)).length, 1, 'nothing sent while offline');
        await c.connect();
        const delivered = await Promise.all(queued.map((q) => q.delivered));
        assert.deepEqual(
          delivered.map((m) => m.clientMsgId),
          queued.map((q) => q.item.clientMsgId),
        );
        const server = await history(a.rest, cid);
        assert.deepEqual(server.map((m) => m.text), [null, 'o1', 'o2', 'o3'], 'each once, in the order written');
        await until(() => seenByA.news.length === 3, 'the others get them live');
        assert.equal(c.outbox.pending().length, 0);
      });

      test('outbox: an ack lost with the connection is re-sent with the same clientMsgId after reconnecting: one message', async () => {
        const { a, cid, users } = await groupOfThree('Lost ack');
        let cut = 0;
        const tap = tappedWebSocket((f, ws) => {
          if (f.type === 'ack' && f.message?.text === 'lose my ack' && cut === 0) {
            cut += 1;
            ws.terminate(); // the server stored it; the client never hears back
            return false;
          }
          return true;
        });
        const eli = await signup(s.url, 'eli');
        await a.rest.addMembers(cid, [eli.id]);
        const e = client(eli, { WebSocketImpl: tap.Impl });
        await e.connect();
        const states: string[] = [];
        e.on('connection.state', (x) => states.push(x.state));
        const q = await e.sendMessage(cid, { text: 'lose my ack' });
        const m = await q.delivered;
        assert.equal(cut, 1);
        assert.ok(tap.sockets.length >= 2, 'reconnected');
        assert.ok(states.includes('reconnecting') && states.includes('open'));
        assert.equal(m.clientMsgId, q.item.clientMsgId);
        const server = await history(a.rest, cid);
        assert.equal(server.filter((x) => x.text === 'lose my ack').length, 1);
        await e.settled();
        assert.equal(e.store.messages(cid).filter((x) => x.text === 'lose my ack').length, 1);
        assert.equal(users.length, 3);
      });

      test('a rejected access token is refreshed before reconnecting; a revoked session stops the client', async () => {
        const u = await signup(s.url, 'fay');
        const saved: unknown[] = [];
        const f = client({ ...u, accessToken: 'expired.or.garbage' }, { onTokens: (t) => saved.push(t) });
        const ready = await f.connect();
        assert.equal(ready.user.id, u.id);
        assert.equal(saved.length, 1, 'rotated once, and handed to the app to persist');
        assert.notEqual(f.rest.refreshToken, u.refreshToken);

        const ended = f.once('session.ended');
        const other = new RestClient({ baseUrl: s.url, tokens: { accessToken: f.rest.accessToken!, refreshToken: f.rest.refreshToken! } });
        await other.logout(); // the same session, ended elsewhere
        await ended;
        assert.equal(f.realtime.state, 'closed');
        assert.equal(f.rest.accessToken, null);
        await sleep(400);
        assert.equal(f.realtime.state, 'closed', 'no reconnect after 1008');
      });

      test('REST rules: sync since a cursor, clientMsgId scope, history windows, direct conversations, read positions', async () => {
        const [p, q, r] = await Promise.all(['pia', 'quin', 'rae'].map((n) => signup(s.url, n)));
        const rest = (u: TestUser) => new RestClient({ baseUrl: s.url, tokens: { accessToken: u.accessToken, refreshToken: u.refreshToken } });
        const [P, Q, R] = [rest(p!), rest(q!), rest(r!)];

        // /v1/sync: no `since` gives a fresh cursor and nothing; later, every change once by rev.
        const start = await P.sync();
        assert.deepEqual(start.events, []);
        assert.equal(start.hasMore, false);
        const dm = await P.createDirect(q!.id);
        assert.equal((await Q.createDirect(p!.id)).id, dm.id);
        const x1 = await P.sendMessage(dm.id, { clientMsgId: 'k1', text: 'x1' });
        const x2 = await Q.sendMessage(dm.id, { clientMsgId: 'k1', text: 'x2' }); // the same id from another sender is another message
        assert.notEqual(x1.id, x2.id);
        await Q.editMessage(dm.id, x2.id, 'x2!');
        await P.addReaction(dm.id, x2.id, '🎉');
        await P.deleteMessage(dm.id, x1.id);
        await Q.markRead(dm.id, x2.seq);
        const events: any[] = [];
        let cursor = start.cursor;
        for (let pages = 0; ; pages++) {
          const page = await P.sync({ since: cursor, limit: 2 }); // small pages: continuation is exercised
          events.push(...page.events);
          cursor = page.cursor;
          if (!page.hasMore) break;
          assert.ok(pages < 20);
        }
        const latest = new Map<string, any>();
        for (const e of events) if (e.message && (latest.get(e.message.id)?.rev ?? 0) < e.message.rev) latest.set(e.message.id, e.message);
        assert.equal(latest.get(x1.id).deletedAt !== undefined, true);
        assert.equal(latest.get(x2.id).text, 'x2!');
        assert.deepEqual(latest.get(x2.id).reactions, { '🎉': [p!.id] });
        assert.ok(events.some((e) => e.type === 'member.added' && e.conversationId === dm.id && e.userId === p!.id));
        // Q's read position reached x2 by sending it: the message.new of x2 carries it (no separate read event).
        assert.ok(events.some((e) => e.type === 'message.new' && e.message.id === x2.id && e.senderReadSeq === x2.seq));
        await assert.rejects(P.sync({ since: 'not-a-cursor' }), (e: any) => e.status === 400 && e.code === 'invalid_request');

        // a clientMsgId belongs to one conversation
        const g = await P.createGroup({ title: 'g', memberIds: [q!.id, r!.id] });
        await assert.rejects(P.sendMessage(g.id, { clientMsgId: 'k1', text: 'elsewhere' }), (e: any) => e.status === 409 && e.code === 'conflict');

        // sending reads up to your own message
        const mine = await R.sendMessage(g.id, { clientMsgId: 'r1', text: 'hi' });
        const rc = await R.getConversation(g.id);
        assert.equal(rc.lastReadSeq, mine.seq);
        assert.equal(rc.unreadCount, 0);
        assert.equal((await Q.getConversation(g.id)).unreadCount, 1);

        // history windows: newest page by default; before/after are exclusive; ascending
        for (let i = 0; i < 7; i++) await Q.sendMessage(g.id, { clientMsgId: `h${i}`, text: `h${i}` });
        const all = await Q.listMessages(g.id, { after: 0, limit: 200 });
        const n = all.messages.length;
        assert.deepEqual(seqs(all.messages), oneTo(n));
        const newest = await Q.listMessages(g.id, { limit: 3 });
        assert.deepEqual(seqs(newest.messages), [n - 2, n - 1, n]);
        assert.equal(newest.hasMore, true);
        const older = await Q.listMessages(g.id, { before: n - 2, limit: 3 });
        assert.deepEqual(seqs(older.messages), [n - 5, n - 4, n - 3]);
        const window = await Q.listMessages(g.id, { after: 2, before: 5 });
        assert.deepEqual(seqs(window.messages), [3, 4]);
        assert.equal(window.hasMore, false);
        const tail = await Q.listMessages(g.id, { after: n - 1 });
        assert.deepEqual(seqs(tail.messages), [n]);
        assert.equal(tail.hasMore, false);

        // a direct conversation has no title and nobody leaves it; system messages are nobody's to edit
        await assert.rejects(P.updateConversation(dm.id, { title: 'nope' }), (e: any) => e.status === 403);
        await assert.rejects(P.removeMember(dm.id, p!.id), (e: any) => e.status === 403);
        const created = all.messages[0]!;
        assert.equal(created.kind, 'system');
        await assert.rejects(P.editMessage(g.id, created.id, 'rewritten'), (e: any) => e.status === 403);
        await assert.rejects(P.addReaction(dm.id, x1.id, '👍'), (e: any) => e.status === 409, 'no reactions on a tombstone');

        // removed, then re-added: a member again, with the whole history visible
        await P.removeMember(g.id, r!.id);
        await assert.rejects(R.listMessages(g.id), (e: any) => e instanceof ParleyError && e.status === 404);
        await P.addMembers(g.id, [r!.id]);
        const back = await R.listMessages(g.id, { after: 0, limit: 200 });
        assert.deepEqual(seqs(back.messages), oneTo(back.messages.length));
        assert.deepEqual(back.messages.slice(-2).map((m) => m.system?.action), ['member.removed', 'member.added']);
      });
    });
  }
});
