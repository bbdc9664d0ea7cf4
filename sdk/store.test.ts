import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ChatStore } from './store.js';
import type { Conversation, Message } from './types.js';

function m(seq: number, rev = 1, extra: Partial<Message> = {}): Message {
  return {
    id: `m${seq}`,
    conversationId: 'c',
    seq,
    rev,
    senderId: 'u',
    clientMsgId: `k${seq}`,
    kind: 'user',
    text: `t${seq}r${rev}`,
    attachments: [],
    mentions: [],
    reactions: {},
    createdAt: '2024-01-01T00:00:00.000Z',
    ...extra,
  };
}

describe('ChatStore', () => {
  test('applies by rev: duplicates and older states are stale', () => {
    const s = new ChatStore();
    assert.equal(s.apply(m(1, 1)), 'new');
    assert.equal(s.apply(m(1, 1)), 'stale');
    assert.equal(s.apply(m(1, 3)), 'updated');
    assert.equal(s.apply(m(1, 2)), 'stale', 'an older edit arriving late does not win');
    assert.equal(s.message('c', 1)!.text, 't1r3');
  });

  test('gap detection: contiguous position, holes, and fills', () => {
    const s = new ChatStore();
    assert.equal(s.isGap('c', 5), false, 'unknown conversation: no gap can be claimed');
    s.setBaseline('c', 0);
    s.apply(m(1));
    s.apply(m(2));
    assert.equal(s.contiguousSeq('c'), 2);
    assert.equal(s.isGap('c', 3), false);
    assert.equal(s.isGap('c', 2), false, 'an update of a held message');
    assert.equal(s.isGap('c', 5), true);
    s.apply(m(5)); // applied during a replay: held above a hole
    assert.equal(s.contiguousSeq('c'), 2);
    assert.equal(s.hasHole('c'), true);
    assert.equal(s.isGap('c', 5), false, 'held already');
    s.apply(m(4));
    s.apply(m(3));
    assert.equal(s.contiguousSeq('c'), 5, 'advances over everything held');
    assert.equal(s.hasHole('c'), false);
    assert.deepEqual(s.messages('c').map((x) => x.seq), [1, 2, 3, 4, 5]);
  });

  test('baseline: set once; history before the window counts as accounted for', () => {
    const s = new ChatStore();
    s.setBaseline('c', 10);
    s.setBaseline('c', 3); // later hints do not move it
    assert.equal(s.contiguousSeq('c'), 10);
    s.apply(m(4, 2)); // an edit of old history: fine, no gap
    assert.equal(s.isGap('c', 11), false);
    assert.equal(s.isGap('c', 12), true);
    assert.equal(s.hasHole('c'), false);
  });

  test('conversations: a shared view keeps the per-member fields; lastSeq follows messages', () => {
    const s = new ChatStore();
    const full: Conversation = {
      id: 'c',
      type: 'group',
      title: 'a',
      memberCount: 2,
      lastSeq: 1,
      unreadCount: 4,
      unreadMentionCount: 1,
      role: 'admin',
      lastReadSeq: 1,
      createdAt: '',
      updatedAt: '',
    };
    s.upsertConversation(full);
    const { unreadCount: _u, unreadMentionCount: _m, role: _r, lastReadSeq: _l, ...shared } = full;
    s.upsertConversation({ ...shared, title: 'b' } as Conversation);
    const c = s.conversation('c')!;
    assert.equal(c.title, 'b');
    assert.equal(c.role, 'admin');
    assert.equal(c.unreadCount, 4);
    s.apply(m(7));
    assert.equal(s.conversation('c')!.lastSeq, 7);
    assert.equal(s.conversation('c')!.lastMessage!.seq, 7);
    s.upsertConversation({ ...shared, lastSeq: 2 } as Conversation); // an older view does not move it back
    assert.equal(s.conversation('c')!.lastSeq, 7);
  });
});
