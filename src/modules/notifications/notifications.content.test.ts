import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PUSH_BODY_MAX_CHARS, alertPush, backgroundPush, truncate } from './notifications.content.js';

const input = {
  senderName: 'Ada',
  conversation: { id: 'c1', type: 'group' as const, title: 'Engines' },
  message: { id: 'm1', seq: 7, text: 'hello   world', attachmentCount: 0 },
  preview: true,
  badge: 3,
};

test('title names sender and group; body is the text; data says where; collapse per conversation', () => {
  const p = alertPush(input);
  assert.equal(p.title, 'Ada in Engines');
  assert.equal(p.body, 'hello world');
  assert.deepEqual(p.data, { type: 'message', conversationId: 'c1', messageId: 'm1', seq: '7' });
  assert.equal(p.collapseKey, 'c1');
  assert.equal(p.badge, 3);
  assert.equal(alertPush({ ...input, conversation: { id: 'c1', type: 'direct', title: null } }).title, 'Ada');
});

test('long text is cut to the limit with an ellipsis, by code point', () => {
  const p = alertPush({ ...input, message: { ...input.message, text: '😀'.repeat(500) } });
  assert.equal([...p.body!].length, PUSH_BODY_MAX_CHARS);
  assert.ok(p.body!.endsWith('…'));
  assert.equal(truncate('short', 10), 'short');
});

test('privacy: no text at all when previews are off', () => {
  const p = alertPush({ ...input, preview: false, message: { ...input.message, text: 'secret plans' } });
  assert.equal(p.body, 'New message');
  assert.ok(!JSON.stringify(p).includes('secret'));
});

test('attachments only, and background pushes carry no text', () => {
  assert.equal(alertPush({ ...input, message: { ...input.message, text: null, attachmentCount: 2 } }).body, 'Sent 2 attachments');
  const b = backgroundPush('c1', 'm1', 9);
  assert.equal(b.kind, 'background');
  assert.equal(b.title, undefined);
  assert.equal(b.data.seq, '9');
});
