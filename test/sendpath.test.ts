/**
 * The send path: how many statements one send costs, and that a send commits all of its
 * SQL rows (message, mentions, media posts, activity, the sender's read position, the
 * outbox rows of its jobs) or none of them.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { SQL_BACKENDS, call, signup, startTestServer, type TestServer, type TestUser } from './harness.js';
import { randomBytes } from 'node:crypto';
import { CountingSqlDatabase } from '../src/platform/sql/sql.counting.js';
import { startFerretDB, type MongoTestServer } from './support/ferretdb.js';
import { WsTestClient } from './support/ws-client.js';

for (const backend of SQL_BACKENDS) {
  describe(`send path (${backend})`, () => {
    let s: TestServer;
    let counter: CountingSqlDatabase | undefined;
    let alice: TestUser, bob: TestUser;
    let cid: string;
    before(async () => {
      s = await startTestServer({
        sql: backend,
        roles: ['api', 'ws'],
        // The relay off: its polling would mix its own statements into the count.
        env: { RATE_LIMIT_WS_SEND: '10000/10s', OUTBOX_RELAY: 'false' },
        wrapSql: (db) => (counter = new CountingSqlDatabase(db)),
      });
      alice = await signup(s.url, 'alice');
      bob = await signup(s.url, 'bob');
      const g = await call(s.url, 'POST', '/v1/conversations', { token: alice.accessToken, body: { type: 'group', title: 'count', memberIds: [bob.id] } });
      cid = g.body.id;
    });
    after(async () => s?.stop());

    test('a plain text send costs at most 3 statements (round trips) on the SQL port', async () => {
      const messages = s.parley.services.messages;
      // warm up (first statement plans, caches)
      await messages.send(alice.id, { conversationId: cid, clientMsgId: 'warm', text: 'hello' });
      const counts: number[] = [];
      for (let i = 0; i < 5; i++) {
        counter!.reset();
        const r = await messages.send(alice.id, { conversationId: cid, clientMsgId: `count-${i}`, text: `message ${i}` });
        assert.equal(r.created, true);
        counts.push(counter!.statements.length);
        if (i === 0) console.log(`statements per send (${backend}):`, counter!.statements.map((x) => x.text.replace(/\s+/g, ' ').slice(0, 90)));
      }
      console.log(`statements per send (${backend}): ${counts.join(', ')}`);
      assert.ok(Math.max(...counts) <= 3, `statements per send: ${counts.join(', ')}`);
    });

    test('a read receipt costs at most 4 statements: head, watermark with its event, unread count and mention-excluded count', async () => {
      const convs = s.parley.services.conversations;
      const { message } = await s.parley.services.messages.send(alice.id, { conversationId: cid, clientMsgId: 'read-count', text: 'read me' });
      await convs.markRead(bob.id, cid, message.seq - 1); // warm up
      counter!.reset();
      const r = await convs.markRead(bob.id, cid, message.seq);
      assert.equal(r.lastReadSeq, message.seq);
      const texts = counter!.statements.map((x) => x.text.replace(/\s+/g, ' ').slice(0, 90));
      console.log(`statements per read (${backend}): ${texts.length}`, texts);
      assert.ok(texts.length <= 4, `statements per read: ${texts.length}`);
      const events = await s.parley.platform.sql.query<{ payload: any }>("SELECT payload FROM conversation_events WHERE conversation_id = $1 AND user_id = $2 AND type = 'read' ORDER BY id DESC LIMIT 1", [cid, bob.id]);
      assert.deepEqual(events.rows[0]?.payload, { conversationId: cid, userId: bob.id, seq: message.seq }, 'the event is written by the same statement');
      // A non-member learns nothing and nothing is written.
      const carol = await signup(s.url, 'carol');
      await assert.rejects(convs.markRead(carol.id, cid, message.seq), (err: any) => err.code === 'not_found');
    });

    test('a send commits its message, mentions, activity, read position and outbox rows together', async () => {
      const sql = s.parley.platform.sql;
      const before = (await sql.query<{ at: Date }>('SELECT last_activity_at AS at FROM conversations WHERE id = $1', [cid])).rows[0]!.at;
      const { message } = await s.parley.services.messages.send(alice.id, { conversationId: cid, clientMsgId: 'all-rows', text: `hi @${bob.username}` });
      assert.deepEqual(message.mentions, [bob.id]);
      const mentions = await sql.query('SELECT user_id FROM mentions WHERE message_id = $1', [message.id]);
      assert.deepEqual(mentions.rows, [{ user_id: bob.id }]);
      // One outbox row per send, naming its jobs (the relay expands it: see jobsOfRow).
      const jobs = await sql.query<{ id: string; kind: string; payload: any }>('SELECT id, kind, payload FROM outbox WHERE id LIKE $1 ORDER BY id', [`%:${message.id}`]);
      assert.deepEqual(jobs.rows.map((r) => [r.id, r.kind]), [[`message.sent:${message.id}`, 'message.sent']]);
      assert.deepEqual(jobs.rows[0]!.payload, { messageId: message.id, conversationId: cid, seq: message.seq, senderId: alice.id, jobs: ['notify.push', 'notify.email', 'notify.background', 'mentions.detect'] });
      // Mention detection only for a message that mentions someone.
      const read = await sql.query<{ s: number }>('SELECT last_read_seq AS s FROM members WHERE conversation_id = $1 AND user_id = $2', [cid, alice.id]);
      assert.equal(Number(read.rows[0]!.s), message.seq);
      const after = (await sql.query<{ at: Date }>('SELECT last_activity_at AS at FROM conversations WHERE id = $1', [cid])).rows[0]!.at;
      assert.ok(after.getTime() >= before.getTime() && after.getTime() === new Date(message.createdAt).getTime());

      // A message with a link also gets its preview job in the same statement.
      const linked = (await s.parley.services.messages.send(alice.id, { conversationId: cid, clientMsgId: 'with-link', text: 'see https://example.test/page' })).message;
      const linkedJobs = await sql.query<{ id: string; payload: any }>('SELECT id, payload FROM outbox WHERE id LIKE $1 ORDER BY id', [`%:${linked.id}`]);
      assert.deepEqual(linkedJobs.rows.map((r) => r.id), [`message.sent:${linked.id}`]);
      assert.deepEqual(linkedJobs.rows[0]!.payload.jobs, ['notify.push', 'notify.email', 'notify.background', 'links.preview']);
      assert.equal(linkedJobs.rows[0]!.payload.messageId, linked.id);
    });

    test('a step failing mid-send (after the message insert) leaves nothing written; the retry stores it with the next seq', async () => {
      const sql = s.parley.platform.sql;
      const messages = s.parley.services.messages;
      const head = async () => Number((await sql.query<{ n: number }>('SELECT last_seq AS n FROM message_counters WHERE conversation_id = $1', [cid])).rows[0]!.n);
      const state = async () => ({
        seq: await head(),
        msgs: Number((await sql.query<{ n: number }>('SELECT count(*) AS n FROM messages WHERE conversation_id = $1', [cid])).rows[0]!.n),
        mentions: Number((await sql.query<{ n: number }>('SELECT count(*) AS n FROM mentions WHERE conversation_id = $1', [cid])).rows[0]!.n),
        outbox: Number((await sql.query<{ n: number }>('SELECT count(*) AS n FROM outbox').then((r) => r)).rows[0]!.n),
        read: Number((await sql.query<{ s: number }>('SELECT last_read_seq AS s FROM members WHERE conversation_id = $1 AND user_id = $2', [cid, bob.id])).rows[0]!.s),
        activity: (await sql.query<{ at: Date }>('SELECT last_activity_at AS at FROM conversations WHERE id = $1', [cid])).rows[0]!.at.getTime(),
      });
      const was = await state();
      // The outbox insert is the last part of the send's statement to run; make it fail.
      await sql.exec(`CREATE FUNCTION fail_outbox() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'injected failure'; END $$;
        CREATE TRIGGER fail_outbox AFTER INSERT ON outbox FOR EACH ROW EXECUTE FUNCTION fail_outbox();`);
      try {
        await assert.rejects(messages.send(bob.id, { conversationId: cid, clientMsgId: 'half', text: `@${alice.username} mid-send` }), /injected failure/);
      } finally {
        await sql.exec('DROP TRIGGER fail_outbox ON outbox; DROP FUNCTION fail_outbox();');
      }
      assert.deepEqual(await state(), was, 'nothing of the failed send was written');
      const r = await messages.send(bob.id, { conversationId: cid, clientMsgId: 'half', text: `@${alice.username} mid-send` });
      assert.equal(r.created, true);
      assert.equal(r.message.seq, was.seq + 1, 'the failed attempt gave its seq back');
      const now = await state();
      assert.equal(now.mentions, was.mentions + 1);
      assert.equal(now.outbox, was.outbox + 1);
      assert.equal(now.read, r.message.seq);
      const again = await messages.send(bob.id, { conversationId: cid, clientMsgId: 'half', text: 'different text' });
      assert.equal(again.created, false);
      assert.equal(again.message.id, r.message.id);
      assert.deepEqual(await state(), now, 'a retry after success writes nothing');
    });

    test('members get one frame per message: the sender\'s read position rides in message.new', async () => {
      const ws = await WsTestClient.connect(s.wsUrl, bob.accessToken);
      try {
        const from = ws.frames.length;
        const sent = [];
        for (let i = 0; i < 3; i++) sent.push((await s.parley.services.messages.send(alice.id, { conversationId: cid, clientMsgId: `one-frame-${i}`, text: `f${i}` })).message);
        // Events of one conversation keep their order: once the typing frame is in, anything
        // the sends published is in too.
        await s.parley.services.messages.typing(alice.id, cid);
        await ws.waitFor((f) => f.type === 'typing' && f.userId === alice.id);
        const frames = ws.frames.slice(from).filter((f) => f.type !== 'presence');
        assert.deepEqual(
          frames.map((f) => [f.type, f.message?.id, f.senderReadSeq]),
          [...sent.map((m) => ['message.new', m.id, m.seq]), ['typing', undefined, undefined]],
        );
        const members = await call(s.url, 'GET', `/v1/conversations/${cid}/members`, { token: bob.accessToken });
        assert.equal(members.body.members.find((m: any) => m.userId === alice.id).lastReadSeq, sent[2]!.seq);
      } finally {
        ws.close();
      }
    });

    test('group commit: concurrent sends share statements, each keeps its own outcome and idempotency', async () => {
      const messages = s.parley.services.messages;
      const g = await call(s.url, 'POST', '/v1/conversations', { token: alice.accessToken, body: { type: 'group', title: 'batch', memberIds: [bob.id] } });
      const gid = g.body.id as string;
      const stranger = await signup(s.url, 'stranger');
      counter!.reset();
      const N = 120;
      const attempts = Array.from({ length: N }, (_, i) => {
        const who = i % 2 ? alice : bob;
        // every 10th send repeats the clientMsgId of the one before it (a retry racing its original)
        const key = i % 10 === 9 ? `b-${i - 2}` : `b-${i}`;
        return messages.send(who.id, { conversationId: gid, clientMsgId: key, text: `b${i}` });
      });
      const intruder = assert.rejects(messages.send(stranger.id, { conversationId: gid, clientMsgId: 'b-intruder', text: 'no' }), (e: any) => e.code === 'not_found');
      const results = await Promise.all(attempts);
      await intruder;
      const batches = counter!.statements.filter((x) => x.text.startsWith('/* send */')).length;
      const created = results.filter((r) => r.created);
      assert.equal(created.length, N - N / 10);
      for (let i = 9; i < N; i += 10) {
        // whichever of the two came first stored it; the other got the stored message
        assert.equal(Number(results[i]!.created) + Number(results[i - 2]!.created), 1);
        assert.equal(results[i]!.message.id, results[i - 2]!.message.id);
      }
      const hist = await call(s.url, 'GET', `/v1/conversations/${gid}/messages?after=0&limit=200`, { token: alice.accessToken });
      const users = hist.body.messages.filter((m: any) => m.kind === 'user');
      assert.equal(users.length, created.length);
      const seqs = hist.body.messages.map((m: any) => m.seq);
      assert.deepEqual(seqs, Array.from({ length: seqs.length }, (_, i) => i + 1), 'no gap, no duplicate');
      const jobs = await s.parley.platform.sql.query<{ n: number }>('SELECT count(*) AS n FROM outbox WHERE payload->>\'conversationId\' = $1', [gid]);
      assert.equal(Number(jobs.rows[0]!.n), created.length, 'one outbox row per stored send');
      console.log(`group commit (${backend}): ${N + 1} concurrent sends, ${batches} send statements, ${counter!.statements.length} statements`);
      // A batch that fails runs again send by send (dozens of statements): a repeat racing its
      // original must wait for it instead of failing its batch on the unique index.
      assert.ok(batches > 0 && batches < 20, `sends were batched, and no batch fell back (${batches} send statements for ${N + 1} sends)`);
    });

    test('one connection pipelines its sends: group-committed, stored and answered in the order sent, errors in their place', async () => {
      const g = await call(s.url, 'POST', '/v1/conversations', { token: alice.accessToken, body: { type: 'group', title: 'pipeline', memberIds: [bob.id] } });
      const gid = g.body.id as string;
      const other = await call(s.url, 'POST', '/v1/conversations', { token: bob.accessToken, body: { type: 'group', title: 'not alice', memberIds: [] } });
      const root = await call(s.url, 'POST', `/v1/conversations/${gid}/messages`, { token: alice.accessToken, body: { clientMsgId: 'pipe-root', text: 'root' } });
      const ws = await WsTestClient.connect(s.wsUrl, alice.accessToken);
      const bobWs = await WsTestClient.connect(s.wsUrl, bob.accessToken);
      try {
        counter!.reset();
        const N = 60;
        const from = ws.frames.length;
        for (let i = 0; i < N; i++) {
          // #20 goes to a conversation alice is not in; #40 is a read between the sends.
          // Every 7th is a thread reply: its bookkeeping runs between its commit and its
          // publish, so the plain sends behind it must wait to be published.
          const thread = i % 7 === 3 ? { threadRootId: root.body.id } : {};
          if (i === 40) ws.send({ type: 'read', id: `p${i}`, conversationId: gid, seq: 1 });
          else ws.send({ type: 'message.send', id: `p${i}`, conversationId: i === 20 ? other.body.id : gid, clientMsgId: `pipe-${i}`, text: `p${i}`, ...thread });
        }
        await ws.waitFor((f) => f.id === `p${N - 1}`, 30_000);
        const isNew = (f: any) => f.type === 'message.new' && f.message.conversationId === gid && f.message.text !== 'root';
        await bobWs.waitFor(() => bobWs.frames.filter(isNew).length === N - 2, 30_000);
        const published = bobWs.frames.filter(isNew).map((f) => f.message.seq as number);
        assert.deepEqual(published, [...published].sort((a, b) => a - b), 'a member gets one sender\'s messages in seq order, thread replies included');
        const answers = ws.frames.slice(from).filter((f) => f.type === 'ack' || f.type === 'error');
        assert.deepEqual(answers.map((f) => f.id), Array.from({ length: N }, (_, i) => `p${i}`), 'answers in the order of the frames');
        assert.equal(answers[20].type, 'error');
        assert.equal(answers[20].code, 'not_found');
        assert.equal(answers[40].type, 'ack');
        // The read runs after the sends before it were answered, so it sees their commits:
        // alice's read position is her own latest message (a read below it does not move it back).
        assert.equal(answers[40].lastReadSeq, answers[39].message.seq, 'the read between the sends sees the sends before it');
        assert.equal(answers[40].unreadCount, 0);
        const seqs = answers.filter((f, i) => i !== 20 && i !== 40).map((f) => f.message.seq);
        assert.deepEqual(seqs, Array.from({ length: N - 2 }, (_, k) => seqs[0]! + k), 'seqs follow the order sent, no gap');
        const texts = answers.filter((f, i) => i !== 20 && i !== 40).map((f) => f.message.text);
        assert.deepEqual(texts, Array.from({ length: N }, (_, i) => `p${i}`).filter((_, i) => i !== 20 && i !== 40));
        const batches = counter!.statements.filter((x) => x.text.startsWith('/* send */')).length;
        console.log(`pipelined sends (${backend}): ${N - 1} sends on one connection, ${batches} send statements`);
        assert.ok(batches < (N - 1) / 2, `one connection's sends share statements (${batches} for ${N - 1})`);
      } finally {
        ws.close();
        bobWs.close();
      }
    });

    test('a send whose view fails while an earlier send holds the publish lane gets its error, and the server keeps serving', async () => {
      const messages = s.parley.services.messages;
      const g = await call(s.url, 'POST', '/v1/conversations', { token: alice.accessToken, body: { type: 'group', title: 'lane', memberIds: [bob.id] } });
      const gid = g.body.id as string;
      const root = await messages.send(alice.id, { conversationId: gid, clientMsgId: 'lane-root', text: 'root' });
      // The thread reply's bookkeeping waits for `release`; the plain send after it fails
      // making its view meanwhile, so its failure sits behind the reply in the lane.
      const internals = messages as unknown as { threads: { recordReply: (...a: unknown[]) => Promise<void> }; views: { fresh: (m: { text: string | null }, ...a: unknown[]) => Promise<unknown> } };
      const { threads, views } = internals;
      const recordReply = threads.recordReply;
      const fresh = views.fresh;
      let release!: () => void;
      const released = new Promise<void>((r) => (release = r));
      let atGate!: () => void;
      const reachedGate = new Promise<void>((r) => (atGate = r));
      let viewFailed!: () => void;
      const failedView = new Promise<void>((r) => (viewFailed = r));
      threads.recordReply = async (...a) => {
        atGate();
        await released;
        return recordReply.apply(threads, a);
      };
      views.fresh = async (m, ...a) => {
        if (m.text === 'view fails') {
          viewFailed();
          throw new Error('injected view failure');
        }
        return fresh.apply(views, [m, ...a]);
      };
      try {
        const reply = messages.send(alice.id, { conversationId: gid, clientMsgId: 'lane-reply', text: 'reply', threadRootId: root.message.id });
        await reachedGate; // the reply is stored and holds the lane
        const failing = messages.send(alice.id, { conversationId: gid, clientMsgId: 'lane-fail', text: 'view fails' });
        const failingResult = failing.then(() => 'stored', (e: Error) => e.message);
        await failedView;
        // Turns of the event loop for an unhandled rejection to be reported (it would end the process).
        for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
        release();
        assert.equal((await reply).message.text, 'reply');
        assert.equal(await failingResult, 'injected view failure');
      } finally {
        threads.recordReply = recordReply;
        views.fresh = fresh;
      }
      const after = await messages.send(alice.id, { conversationId: gid, clientMsgId: 'lane-after', text: 'after' });
      assert.equal(after.created, true);
    });

    test('a send that fails its batch statement is found by halving: the others are stored, in order, a few statements later', async () => {
      const messages = s.parley.services.messages;
      const sql = s.parley.platform.sql;
      const g = await call(s.url, 'POST', '/v1/conversations', { token: alice.accessToken, body: { type: 'group', title: 'poison', memberIds: [bob.id] } });
      const gid = g.body.id as string;
      await sql.exec(`CREATE FUNCTION fail_poison() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF NEW.text = 'poison' THEN RAISE EXCEPTION 'injected failure'; END IF; RETURN NEW; END $$;
        CREATE TRIGGER fail_poison BEFORE INSERT ON messages FOR EACH ROW EXECUTE FUNCTION fail_poison();`);
      try {
        counter!.reset();
        const N = 40;
        const results = await Promise.all(
          Array.from({ length: N }, (_, i) =>
            messages.send(alice.id, { conversationId: gid, clientMsgId: `poison-${i}`, text: i === 17 ? 'poison' : `p${i}` }).then(
              (r) => ({ i, seq: r.message.seq }),
              (e: Error) => ({ i, error: e.message }),
            ),
          ),
        );
        const failed = results.filter((r) => 'error' in r);
        assert.deepEqual(failed.map((r) => r.i), [17]);
        assert.match((failed[0] as { error: string }).error, /injected failure/);
        const stored = results.filter((r): r is { i: number; seq: number } => 'seq' in r);
        assert.equal(stored.length, N - 1);
        const bySeq = [...stored].sort((a, b) => a.seq - b.seq);
        // The first runs at once, alone; the rest (the same sender and conversation) waited
        // for it and went as one batch, and its halves keep their order.
        assert.deepEqual(bySeq.map((r) => r.i), stored.map((r) => r.i), 'one sender\'s sends stored in the order they came');
        const seqs = bySeq.map((r) => r.seq);
        assert.deepEqual(seqs, Array.from({ length: seqs.length }, (_, k) => seqs[0]! + k), 'no gap');
        const statements = counter!.statements.filter((x) => x.text.startsWith('/* send */')).length;
        assert.ok(statements < 30, `halving, not send by send (${statements} send statements for ${N} sends)`);
      } finally {
        await sql.exec('DROP TRIGGER fail_poison ON messages; DROP FUNCTION fail_poison();');
      }
    });

    test('sends racing the removal of their sender: each is stored before it or refused after it, no deadlock', async () => {
      const messages = s.parley.services.messages;
      const conversations = s.parley.services.conversations;
      for (let round = 0; round < 8; round++) {
        const carol = await signup(s.url, 'carol');
        await conversations.addMembers(alice.id, cid, [carol.id]);
        const sends = Array.from({ length: 6 }, (_, i) =>
          messages.send(carol.id, { conversationId: cid, clientMsgId: `race-${round}-${i}`, text: `r${i}` }).then(
            (r) => ({ ok: true as const, seq: r.message.seq }),
            (e: any) => ({ ok: false as const, code: e.code as string, message: String(e.message) }),
          ),
        );
        const removal = conversations.removeMember(alice.id, cid, carol.id);
        const [outcomes] = await Promise.all([Promise.all(sends), removal]);
        for (const o of outcomes) if (!o.ok) assert.equal(o.code, 'not_found', o.message);
        // Nothing of carol's is stored after the removal's system message.
        const hist = await call(s.url, 'GET', `/v1/conversations/${cid}/messages?limit=50`, { token: alice.accessToken });
        const removedAt = hist.body.messages.find((m: any) => m.kind === 'system' && m.system.action === 'member.removed' && m.system.userIds?.includes(carol.id));
        assert.ok(removedAt);
        assert.ok(!hist.body.messages.some((m: any) => m.senderId === carol.id && m.kind === 'user' && m.seq > removedAt.seq));
      }
    });

    test('a non-member send writes nothing and is not_found, even with a clientMsgId the sender used elsewhere', async () => {
      const sql = s.parley.platform.sql;
      const mallory = await signup(s.url, 'mallory');
      const outbox = async () => Number((await sql.query<{ n: number }>('SELECT count(*) AS n FROM outbox')).rows[0]!.n);
      const n = await outbox();
      await assert.rejects(s.parley.services.messages.send(mallory.id, { conversationId: cid, clientMsgId: 'x1', text: 'let me in' }), (e: any) => e.code === 'not_found');
      await assert.rejects(s.parley.services.messages.send(mallory.id, { conversationId: cid, clientMsgId: 'x1', text: 'let me in', replyToId: 'nope' }), (e: any) => e.code === 'not_found');
      assert.equal(await outbox(), n);
      const mine = await sql.query('SELECT 1 FROM messages WHERE sender_id = $1', [mallory.id]);
      assert.equal(mine.rows.length, 0);
    });
  });
}

// The MongoDB message store: the message is in MongoDB, the rest in SQL. They cannot commit
// together; a retry with the same clientMsgId must complete what a failure left out.
const mongo: MongoTestServer | null = await startFerretDB();
const ci = process.env.CI === 'true';
describe('send path with the MongoDB message store', { skip: mongo || ci ? false : 'no MongoDB server (FerretDB could not be built)' }, () => {
  let s: TestServer;
  let counter: CountingSqlDatabase | undefined;
  let alice: TestUser, bob: TestUser;
  let cid: string;
  before(async () => {
    if (!mongo) throw new Error('CI=true and no MongoDB server could be started');
    s = await startTestServer({
      roles: ['api', 'ws'],
      env: { MONGODB_URL: mongo.url, MONGODB_DATABASE: `parley_sp_${randomBytes(4).toString('hex')}`, OUTBOX_RELAY: 'false' },
      wrapSql: (db) => (counter = new CountingSqlDatabase(db)),
    });
    alice = await signup(s.url, 'alice');
    bob = await signup(s.url, 'bob');
    cid = (await call(s.url, 'POST', '/v1/conversations', { token: alice.accessToken, body: { type: 'group', title: 'mongo', memberIds: [bob.id] } })).body.id;
  });
  after(async () => {
    await s?.stop();
    await mongo?.stop();
  });

  test('a plain send costs 3 SQL statements (membership, the change mark of the MongoDB write, then the SQL half)', async () => {
    await s.parley.services.messages.send(alice.id, { conversationId: cid, clientMsgId: 'm-warm', text: 'warm' });
    counter!.reset();
    await s.parley.services.messages.send(alice.id, { conversationId: cid, clientMsgId: 'm-count', text: 'count me' });
    console.log(`SQL statements per send (MongoDB store): ${counter!.statements.length}`);
    assert.ok(counter!.statements.length <= 3, counter!.statements.map((x) => x.text.slice(0, 60)).join(' | '));
  });

  test('concurrent sends are published in the order MongoDB stored them, however long each SQL half takes', async () => {
    const messages = s.parley.services.messages;
    const ws = await WsTestClient.connect(s.wsUrl, bob.accessToken);
    // The first send's SQL half is slow: the sends behind it must not be published first.
    const sends = (messages as unknown as { sends: { storeSideEffects: (m: { clientMsgId: string }, ...a: unknown[]) => Promise<unknown> } }).sends;
    const storeSideEffects = sends.storeSideEffects;
    sends.storeSideEffects = async (m, ...a) => {
      if (m.clientMsgId === 'order-0') await new Promise((r) => setTimeout(r, 200));
      return storeSideEffects.apply(sends, [m, ...a]);
    };
    try {
      const results = await Promise.all(Array.from({ length: 6 }, (_, i) => messages.send(i % 2 ? bob.id : alice.id, { conversationId: cid, clientMsgId: `order-${i}`, text: `o${i}` })));
      const ids = new Set(results.map((r) => r.message.id));
      await ws.waitFor(() => ws.frames.filter((f) => f.type === 'message.new' && ids.has(f.message.id)).length === 6, 30_000);
      const published = ws.frames.filter((f) => f.type === 'message.new' && ids.has(f.message.id)).map((f) => f.message.seq as number);
      assert.deepEqual(published, [...published].sort((a, b) => a - b), 'message.new in seq order');
    } finally {
      sends.storeSideEffects = storeSideEffects;
      ws.close();
    }
  });

  test('the SQL half failing after the MongoDB insert is completed by the retry, which also publishes', async () => {
    const sql = s.parley.platform.sql;
    const ws = await WsTestClient.connect(s.wsUrl, bob.accessToken);
    try {
      await sql.exec(`CREATE FUNCTION fail_outbox() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'injected failure'; END $$;
        CREATE TRIGGER fail_outbox AFTER INSERT ON outbox FOR EACH ROW EXECUTE FUNCTION fail_outbox();`);
      try {
        await assert.rejects(s.parley.services.messages.send(alice.id, { conversationId: cid, clientMsgId: 'm-half', text: `@${bob.username} half` }), /injected failure/);
      } finally {
        await sql.exec('DROP TRIGGER fail_outbox ON outbox; DROP FUNCTION fail_outbox();');
      }
      const inMongo = await s.parley.platform.messages.findByClientMsgId(alice.id, 'm-half');
      assert.ok(inMongo, 'the MongoDB half is stored');
      const jobsOf = async () => (await sql.query('SELECT id FROM outbox WHERE id LIKE $1', [`%:${inMongo.id}`])).rows.length;
      const mentionsOf = async () => (await sql.query('SELECT 1 FROM mentions WHERE message_id = $1', [inMongo.id])).rows.length;
      assert.equal(await jobsOf(), 0);
      assert.equal(await mentionsOf(), 0);
      assert.ok(!ws.frames.some((f) => f.type === 'message.new' && f.message.id === inMongo.id));

      const retry = await s.parley.services.messages.send(alice.id, { conversationId: cid, clientMsgId: 'm-half', text: `@${bob.username} half` });
      assert.equal(retry.created, false);
      assert.equal(retry.message.id, inMongo.id);
      assert.equal(await jobsOf(), 1, 'the retry wrote the missing outbox row');
      assert.equal(await mentionsOf(), 1);
      const read = await sql.query<{ s: number }>('SELECT last_read_seq AS s FROM members WHERE conversation_id = $1 AND user_id = $2', [cid, alice.id]);
      assert.equal(Number(read.rows[0]!.s), inMongo.seq);
      const frame = await ws.waitFor((f) => f.type === 'message.new' && f.message.id === inMongo.id);
      assert.equal(frame.senderReadSeq, inMongo.seq);

      // A retry of a complete send writes nothing more.
      const again = await s.parley.services.messages.send(alice.id, { conversationId: cid, clientMsgId: 'm-half', text: 'whatever' });
      assert.equal(again.created, false);
      assert.equal(await jobsOf(), 1);
    } finally {
      ws.close();
    }
  });
});
