/**
 * The message store contract: every adapter (SQL, MongoDB) must pass it. Run from
 * `test/message-store.contract.test.ts`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { newId } from '../../ids.js';
import type { ChangeScan } from '../changes.js';
import type { MessageChangeRow, MessageStore, NewMessage, StoredMessage } from './message-store.port.js';
import { searchTerms } from './search-terms.js';

export interface StoreFactory {
  /** A store over a fresh, empty database; `second` opens another handle on the same data (another process). */
  open(): Promise<{ store: MessageStore; second(): Promise<MessageStore>; dispose(): Promise<void> }>;
}

function msg(conversationId: string, senderId: string, text: string, extra: Partial<NewMessage> = {}): NewMessage {
  return { id: newId(), conversationId, senderId, clientMsgId: newId(), kind: 'user', text, attachments: [], replyToId: null, mentions: [], system: null, ...extra };
}

/** Ordered by (createdAt to the millisecond, id), descending: the search keyset. */
function assertNewestFirst(ms: readonly StoredMessage[]): void {
  for (let i = 1; i < ms.length; i++) {
    const [p, n] = [ms[i - 1]!, ms[i]!];
    const t = p.createdAt.getTime() - n.createdAt.getTime();
    assert.ok(t > 0 || (t === 0 && p.id > n.id), `newest first at ${i}`);
  }
}

/** In (change number, id) order: the keyset a scan pages by. */
function assertChangeOrder(cs: readonly MessageChangeRow[]): void {
  for (let i = 1; i < cs.length; i++) {
    const [p, n] = [cs[i - 1]!, cs[i]!];
    assert.ok(p.change < n.change || (p.change === n.change && p.message.id < n.message.id), `change order at ${i}`);
  }
}

/** A rescan from the snapshot a scan ran under delivers nothing: both stores' snapshots are exact. */
function assertNoNewRevs(again: readonly MessageChangeRow[]): void {
  assert.deepEqual(again, [], 'nothing delivered twice');
}

export function messageStoreContract(factory: StoreFactory): void {
  const withStore = (name: string, fn: (s: MessageStore, second: () => Promise<MessageStore>) => Promise<void>) =>
    test(name, async () => {
      const { store, second, dispose } = await factory.open();
      try {
        await fn(store, second);
      } finally {
        await dispose();
      }
    });

  withStore('insert assigns seq 1..n per conversation', async (s) => {
    const a = newId();
    const b = newId();
    const m1 = await s.insert(msg(a, 'u1', 'one'));
    const m2 = await s.insert(msg(a, 'u2', 'two'));
    const n1 = await s.insert(msg(b, 'u1', 'other'));
    assert.equal(m1.created, true);
    assert.deepEqual([m1.message.seq, m2.message.seq, n1.message.seq], [1, 2, 1]);
    assert.ok(m1.message.rev >= 1);
    assert.equal(m1.message.text, 'one');
    assert.deepEqual(m1.message.reactions, {});
    assert.ok(m1.message.createdAt instanceof Date);
    assert.equal(m1.message.deletedAt, null);
  });

  withStore('idempotent by (senderId, clientMsgId), also under concurrent retries', async (s) => {
    const c = newId();
    const first = msg(c, 'u1', 'hello');
    const r1 = await s.insert(first);
    const r2 = await s.insert({ ...first, id: newId(), text: 'changed on retry' });
    assert.equal(r2.created, false);
    assert.equal(r2.message.id, r1.message.id);
    assert.equal(r2.message.text, 'hello');
    const again = msg(c, 'u1', 'race');
    const results = await Promise.all(Array.from({ length: 8 }, () => s.insert({ ...again, id: newId() })));
    assert.equal(results.filter((r) => r.created).length, 1);
    assert.equal(new Set(results.map((r) => r.message.id)).size, 1);
    const next = await s.insert(msg(c, 'u2', 'after'));
    assert.equal(next.message.seq, 3, 'no seq was lost to the losing retries');
    // the same clientMsgId from another sender is another message
    const other = await s.insert({ ...first, id: newId(), senderId: 'u2' });
    assert.equal(other.created, true);
  });

  withStore('concurrent senders through two handles get seqs 1..N with no gap or duplicate', async (s, second) => {
    const s2 = await second();
    const c = newId();
    const N = 60;
    await Promise.all(Array.from({ length: N }, (_, i) => (i % 2 ? s : s2).insert(msg(c, `u${i % 3}`, `m${i}`))));
    const { messages } = await s.list(c, { limit: 100 });
    assert.deepEqual(messages.map((m) => m.seq), Array.from({ length: N }, (_, i) => i + 1));
  });

  withStore('list pages by before/after in ascending order', async (s) => {
    const c = newId();
    for (let i = 1; i <= 10; i++) await s.insert(msg(c, 'u1', `m${i}`));
    const newest = await s.list(c, { limit: 4 });
    assert.deepEqual(newest.messages.map((m) => m.seq), [7, 8, 9, 10]);
    assert.equal(newest.hasMore, true);
    const older = await s.list(c, { beforeSeq: 7, limit: 4 });
    assert.deepEqual(older.messages.map((m) => m.seq), [3, 4, 5, 6]);
    const oldest = await s.list(c, { beforeSeq: 3, limit: 4 });
    assert.deepEqual(oldest.messages.map((m) => m.seq), [1, 2]);
    assert.equal(oldest.hasMore, false);
    const after = await s.list(c, { afterSeq: 8, limit: 4 });
    assert.deepEqual(after.messages.map((m) => m.seq), [9, 10]);
    assert.equal(after.hasMore, false);
    const window = await s.list(c, { afterSeq: 2, beforeSeq: 6, limit: 10 });
    assert.deepEqual(window.messages.map((m) => m.seq), [3, 4, 5]);
    assert.deepEqual((await s.list(newId(), { limit: 5 })).messages, []);
  });

  withStore('edit, react, unreact and delete bump rev; no-ops do not', async (s) => {
    const c = newId();
    const { message: m } = await s.insert(msg(c, 'u1', 'hi @bob', { mentions: ['bob'] }));
    const e = await s.apply(c, m.id, { kind: 'edit', text: 'hi all', mentions: [] });
    assert.ok(e?.changed);
    assert.equal(e.message.text, 'hi all');
    assert.ok(e.message.editedAt instanceof Date);
    assert.ok(e.message.rev > m.rev);
    const r1 = await s.apply(c, m.id, { kind: 'reaction', emoji: '👍', userId: 'u2', add: true });
    const r2 = await s.apply(c, m.id, { kind: 'reaction', emoji: '👍', userId: 'u3', add: true });
    assert.deepEqual(r2?.message.reactions, { '👍': ['u2', 'u3'] });
    const dup = await s.apply(c, m.id, { kind: 'reaction', emoji: '👍', userId: 'u3', add: true });
    assert.equal(dup?.changed, false);
    assert.equal(dup?.message.rev, r2?.message.rev);
    const un = await s.apply(c, m.id, { kind: 'reaction', emoji: '👍', userId: 'u2', add: false });
    assert.deepEqual(un?.message.reactions, { '👍': ['u3'] });
    assert.ok(r1 && un && un.message.rev > r1.message.rev);
    const d = await s.apply(c, m.id, { kind: 'delete' });
    assert.ok(d?.changed);
    assert.equal(d.message.text, null);
    assert.ok(d.message.deletedAt instanceof Date);
    assert.deepEqual(d.message.reactions, {});
    const d2 = await s.apply(c, m.id, { kind: 'delete' });
    assert.equal(d2?.changed, false);
    assert.equal(await s.apply(c, 'nope', { kind: 'delete' }), null);
    assert.equal(await s.apply(newId(), m.id, { kind: 'delete' }), null, 'a message is only found in its own conversation');
    const got = await s.findById(c, m.id);
    assert.equal(got?.rev, d.message.rev);
  });

  withStore('heads, unread counts and changedSince', async (s) => {
    const a = newId();
    const b = newId();
    await s.insert(msg(a, 'me', 'mine'));
    await s.insert(msg(a, 'other', 'x'));
    const { message: del } = await s.insert(msg(a, 'other', 'y'));
    await s.insert(msg(a, 'other', 'sys', { kind: 'system', system: { action: 'member.added', actorId: 'other', userIds: ['me'] } }));
    await s.insert(msg(b, 'other', 'z'));
    await s.apply(a, del.id, { kind: 'delete' });
    const heads = await s.heads([a, b, newId()]);
    assert.equal(heads.get(a)?.lastSeq, 4);
    assert.equal(heads.get(a)?.lastMessage?.text, 'sys');
    assert.equal(heads.get(b)?.lastSeq, 1);
    assert.equal(heads.size, 2);
    const unread = await s.countUnread('me', [
      { conversationId: a, afterSeq: 0 },
      { conversationId: b, afterSeq: 1 },
    ]);
    assert.equal(unread.get(a), 1, 'own, deleted and system messages are not unread');
    assert.equal(unread.get(b), 0);
    // By time (the old cursor format): everything stamped since.
    const since = new Date(Date.now() - 60_000);
    const { changes } = await s.changedSince([a, b], { from: { since } }, 100);
    assert.equal(changes.length, 5);
    assertChangeOrder(changes);
    assert.ok(changes.every((c) => c.isNew), 'created after `since`');
    assert.equal((await s.changedSince([a], { from: { since: new Date(Date.now() + 60_000) } }, 100)).changes.length, 0);
    assert.equal((await s.changedSince([a, b], { from: { since } }, 2)).changes.length, 2);
  });

  withStore('changedSince by change number: new messages, edits and deletes since a snapshot, in change order', async (s) => {
    const a = newId();
    const b = newId();
    const { message: old } = await s.insert(msg(a, 'u1', 'before'));
    const { message: gone } = await s.insert(msg(a, 'u1', 'to delete'));
    const before = await s.changeSnapshot();
    const { message: fresh } = await s.insert(msg(b, 'u2', 'after'));
    await s.apply(a, old.id, { kind: 'edit', text: 'edited', mentions: [] });
    await s.apply(a, gone.id, { kind: 'reaction', emoji: '👍', userId: 'u2', add: true });
    await s.apply(a, gone.id, { kind: 'delete' });
    await s.insert(msg(newId(), 'u1', 'elsewhere'));
    const { changes, snapshot } = await s.changedSince([a, b], { from: { snapshot: before } }, 100);
    const latest = new Map(changes.map((c) => [c.message.id, c]));
    assertChangeOrder(changes);
    assert.deepEqual(new Set(latest.keys()), new Set([old.id, gone.id, fresh.id]), 'only the given conversations');
    assert.equal(latest.get(fresh.id)?.isNew, true);
    assert.equal(latest.get(old.id)?.isNew, false, 'an edit of a message the reader had');
    assert.equal(latest.get(old.id)?.message.text, 'edited');
    assert.ok(latest.get(gone.id)?.message.deletedAt, 'the latest state of a message');
    // From the snapshot the scan ran under: nothing new.
    const again = await s.changedSince([a, b], { from: { snapshot } }, 100);
    assertNoNewRevs(again.changes);
    const { message: late } = await s.insert(msg(a, 'u3', 'later'));
    const next = await s.changedSince([a, b], { from: { snapshot } }, 100);
    assert.ok(next.changes.some((c) => c.message.id === late.id && c.isNew), 'a change after the snapshot is delivered');
    assertNoNewRevs(next.changes.filter((c) => c.message.id !== late.id));
  });

  withStore('changedSince pages: each change once per scan, nothing lost to changes written while paging', async (s) => {
    const c = newId();
    const start = await s.changeSnapshot();
    const sent: string[] = [];
    for (let i = 0; i < 7; i++) sent.push((await s.insert(msg(c, 'u1', `m${i}`))).message.id);
    const seen: MessageChangeRow[] = [];
    let scan: ChangeScan = { from: { snapshot: start } };
    let writtenWhilePaging: string | undefined;
    for (;;) {
      const page = await s.changedSince([c], scan, 2);
      seen.push(...page.changes);
      if (page.changes.length < 2) {
        scan = { from: { snapshot: scan.until ?? page.snapshot } };
        break;
      }
      const last = page.changes[page.changes.length - 1]!;
      scan = { from: scan.from, until: scan.until ?? page.snapshot, after: { change: last.change, id: last.message.id } };
      // Written after the first page: not part of this scan (its snapshot), so the next one's.
      writtenWhilePaging ??= (await s.insert(msg(c, 'u2', 'while paging'))).message.id;
    }
    assertChangeOrder(seen);
    assert.deepEqual(seen.map((x) => x.message.id).sort(), [...sent].sort(), 'every change of the scan exactly once');
    const next = await s.changedSince([c], scan, 100);
    assert.ok(next.changes.some((x) => x.message.id === writtenWhilePaging), 'the change written while paging comes with the next scan');
  });

  withStore('findByClientMsgId and findById', async (s) => {
    const c = newId();
    const m = msg(c, 'u1', 'x', { attachments: ['media1'], replyToId: null });
    await s.insert(m);
    const f = await s.findByClientMsgId('u1', m.clientMsgId);
    assert.equal(f?.id, m.id);
    assert.deepEqual(f?.attachments, ['media1']);
    assert.equal(await s.findByClientMsgId('u2', m.clientMsgId), null);
    assert.equal((await s.findById(c, m.id))?.clientMsgId, m.clientMsgId);
  });

  withStore('findByIds: the conversation\'s messages among the ids, none of another conversation', async (s) => {
    const c = newId();
    const other = newId();
    const a = msg(c, 'u1', 'a');
    const b = msg(c, 'u2', 'b');
    const elsewhere = msg(other, 'u1', 'elsewhere');
    for (const m of [a, b, elsewhere]) await s.insert(m);
    const got = await s.findByIds(c, [b.id, a.id, elsewhere.id, newId(), a.id]);
    assert.deepEqual(got.map((m) => m.id).sort(), [a.id, b.id].sort());
    assert.equal(got.find((m) => m.id === b.id)?.text, 'b');
    assert.deepEqual(await s.findByIds(c, []), []);
  });

  withStore('search: prefix terms, any language, only the given conversations, newest first, paged', async (s) => {
    const a = newId();
    const b = newId();
    const hidden = newId();
    const find = (text: string, extra: Partial<Parameters<MessageStore['search']>[0]> = {}) =>
      s.search({ conversationIds: [a, b], terms: searchTerms(text), limit: 50, ...extra }).then((r) => r.map((m) => m.text));
    await s.insert(msg(a, 'u1', 'Deploying the release tonight'));
    await s.insert(msg(a, 'u2', 'Der Zug fährt um acht Uhr'));
    await s.insert(msg(b, 'u1', 'Привет, мир: release notes attached', { attachments: ['m1'] }));
    await s.insert(msg(hidden, 'u1', 'release from a conversation nobody searched'));
    await s.insert(msg(a, 'u1', 'system text release', { kind: 'system', system: { action: 'updated', actorId: 'u1' } }));
    const released = await s.search({ conversationIds: [a, b], terms: ['release'], limit: 50 });
    assert.deepEqual(released.map((m) => m.text).sort(), ['Deploying the release tonight', 'Привет, мир: release notes attached'], 'never other conversations or system messages');
    assertNewestFirst(released);
    assert.deepEqual(await find('DEPLOY'), ['Deploying the release tonight'], 'a prefix, case-insensitive');
    assert.deepEqual(await find('fähr'), ['Der Zug fährt um acht Uhr'], 'non-English words and partial words');
    assert.deepEqual(await find('прив мир'), ['Привет, мир: release notes attached'], 'every term must match');
    assert.deepEqual(await find('release zug'), []);
    assert.deepEqual(await find('ploying'), [], 'a prefix of a word, not any substring');
    assert.deepEqual(await find('release', { senderId: 'u2' }), []);
    assert.deepEqual(await find('release', { hasAttachment: true }), ['Привет, мир: release notes attached']);
    assert.deepEqual(await find("'release' & !x | (y:*)"), [], 'tsquery syntax in the input is just words');
    // paging: strictly older than the last one seen
    const c = newId();
    for (let i = 0; i < 7; i++) await s.insert(msg(c, 'u1', `page word ${i}`));
    const seen: string[] = [];
    let older: { at: Date; id: string } | undefined;
    for (;;) {
      const page = await s.search({ conversationIds: [c], terms: ['page'], limit: 3, ...(older ? { olderThan: older } : {}) });
      if (page.length === 0) break;
      seen.push(...page.map((m) => m.text!));
      const last = page[page.length - 1]!;
      older = { at: last.createdAt, id: last.id };
    }
    const all = await s.search({ conversationIds: [c], terms: ['page'], limit: 50 });
    assertNewestFirst(all);
    assert.equal(all.length, 7);
    assert.deepEqual(seen, all.map((m) => m.text), 'pages continue exactly where the last one ended');
    const mid = all[3]!.createdAt;
    assert.ok((await s.search({ conversationIds: [c], terms: ['page'], limit: 50, before: mid })).every((m) => m.createdAt < mid));
    assert.ok((await s.search({ conversationIds: [c], terms: ['page'], limit: 50, after: mid })).every((m) => m.createdAt > mid));
  });

  withStore('search is exact on edit and delete', async (s) => {
    const c = newId();
    const { message: m } = await s.insert(msg(c, 'u1', 'the old wording'));
    const q = (t: string) => s.search({ conversationIds: [c], terms: [t], limit: 10 }).then((r) => r.map((x) => x.id));
    assert.deepEqual(await q('wording'), [m.id]);
    await s.apply(c, m.id, { kind: 'edit', text: 'a new phrasing', mentions: [] });
    assert.deepEqual(await q('wording'), [], 'the replaced text is not found');
    assert.deepEqual(await q('phras'), [m.id]);
    await s.apply(c, m.id, { kind: 'reaction', emoji: '👍', userId: 'u2', add: true });
    assert.deepEqual(await q('phras'), [m.id], 'a reaction keeps it found');
    await s.apply(c, m.id, { kind: 'delete' });
    assert.deepEqual(await q('phras'), [], 'deleted text is never found');
    assert.deepEqual(await s.search({ conversationIds: [], terms: ['x'], limit: 10 }), []);
  });
}
