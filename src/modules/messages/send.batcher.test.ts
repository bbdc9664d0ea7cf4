import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { SqlDatabase } from '../../platform/sql/index.js';
import type { MessageRow } from '../../platform/message-store/message-store.sql.js';
import { SendBatcher } from './send.batcher.js';
import type { SendRow } from './send.repository.js';

/**
 * A SQL port that answers the send statement (SendRepository.storeMany) from its parameters,
 * one row per send, when the test releases the statement: so the test sees which sends went
 * together and what was held back while a statement ran.
 */
function fakeDb() {
  const statements: { ids: string[]; release: () => void }[] = [];
  const waiting: (() => void)[] = [];
  const db = {
    kind: 'postgres',
    query: (_text: string, params: unknown[]) => {
      const [convs, senders, ids, cmids] = params as string[][];
      return new Promise((resolve) => {
        const now = new Date();
        const rows: MessageRow[] = ids!.map((id, i) => ({
          id, conversation_id: convs![i]!, seq: i + 1, rev: i + 1, sender_id: senders![i]!, client_msg_id: cmids![i]!, kind: 'user', text: 'x',
          attachments: [], reply_to_id: null, mentions: [], reactions: {}, system: null, created_at: now, edited_at: null, deleted_at: null, updated_at: now,
        }));
        statements.push({ ids: [...ids!], release: () => resolve({ rows, rowCount: rows.length }) });
        waiting.splice(0).forEach((w) => w());
      });
    },
  } as unknown as SqlDatabase;
  /** Resolves once `n` statements have started. */
  const started = async (n: number): Promise<void> => {
    while (statements.length < n) await new Promise<void>((r) => waiting.push(r));
  };
  return { db, statements, started };
}

/** A statement that never starts fails the test (after a generous deadline) instead of hanging the run. */
const T = { timeout: 20_000 };

const row = (id: string, conversationId: string, clientMsgId = id, senderId = 'u1'): SendRow => ({
  id, conversationId, senderId, clientMsgId, text: 'x', attachments: [], replyToId: null, mentions: [],
});

test('a burst into a stream whose statement runs waits and goes in one statement, in order; another stream does not wait for it', T, async () => {
  const { db, statements, started } = fakeDb();
  const b = new SendBatcher(db, { maxBatch: 256, maxInFlight: 2 });
  const first = b.submit(row('a0', 'c1'), []);
  await started(1);
  const burst = Array.from({ length: 50 }, (_, i) => b.submit(row(`a${i + 1}`, 'c1'), []));
  // c1 has a running statement: its burst is held back, but c2's send goes at once.
  const other = b.submit(row('b0', 'c2'), []);
  await started(2);
  assert.deepEqual(statements[1]!.ids, ['b0']);
  statements[1]!.release();
  assert.equal((await other).kind, 'stored');
  assert.equal(statements.length, 2, 'nothing of c1 ran beside its running statement');
  statements[0]!.release();
  await first;
  await started(3);
  assert.deepEqual(statements[2]!.ids, Array.from({ length: 50 }, (_, i) => `a${i + 1}`));
  statements[2]!.release();
  for (const o of await Promise.all(burst)) assert.equal(o.kind, 'stored');
});

test('a retry of a send in a running statement waits for it, even in another conversation; a third stream is not held up', T, async () => {
  const { db, statements, started } = fakeDb();
  const b = new SendBatcher(db, { maxBatch: 256, maxInFlight: 3 });
  const original = b.submit(row('m1', 'c1', 'same'), []);
  await started(1);
  const retry = b.submit(row('m2', 'c2', 'same'), []);
  const unrelated = b.submit(row('m3', 'c3'), []);
  await started(2);
  assert.deepEqual(statements[1]!.ids, ['m3']);
  statements[1]!.release();
  await unrelated;
  statements[0]!.release();
  await original;
  await started(3);
  assert.deepEqual(statements[2]!.ids, ['m2']);
  statements[2]!.release();
  await retry;
});

test('at maxInFlight statements new sends queue, and go together when one ends', T, async () => {
  const { db, statements, started } = fakeDb();
  const b = new SendBatcher(db, { maxBatch: 3, maxInFlight: 1 });
  const sends = [b.submit(row('x0', 'c0'), [])];
  await started(1);
  for (let i = 1; i <= 5; i++) sends.push(b.submit(row(`x${i}`, `c${i}`), []));
  statements[0]!.release();
  await started(2);
  assert.deepEqual(statements[1]!.ids, ['x1', 'x2', 'x3'], 'bounded by maxBatch');
  statements[1]!.release();
  await started(3);
  assert.deepEqual(statements[2]!.ids, ['x4', 'x5']);
  statements[2]!.release();
  assert.equal((await Promise.all(sends)).length, 6);
});
