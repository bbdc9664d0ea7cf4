import assert from 'node:assert/strict';
import { test } from 'node:test';
import { renderDigest } from './notifications.digest.js';

test('the digest names conversations, lists messages in text and escaped HTML, and links to unsubscribe', () => {
  const at = new Date('2026-01-02T03:04:05Z');
  const d = renderDigest({
    recipientName: 'Dee <3',
    appUrl: 'https://chat.example',
    unsubscribeUrl: 'https://chat.example/v1/notifications/unsubscribe?u=1&sig=x',
    sections: [
      { conversationName: 'Engines', url: 'https://chat.example/c/1', messages: [{ sender: 'Ada', text: 'a <b>bold</b> claim', at }], more: true },
      { conversationName: 'Bob', url: 'https://chat.example/c/2', messages: [{ sender: 'Bob', text: 'hi', at }], more: false },
      { conversationName: 'Cy', url: 'https://chat.example/c/3', messages: [{ sender: 'Cy', text: 'yo', at }], more: false },
    ],
  });
  assert.equal(d.subject, '3 unread messages in Engines, Bob and 1 more');
  assert.match(d.text, /== Engines \(https:\/\/chat.example\/c\/1\)\n\[2026-01-02 03:04 UTC\] Ada: a <b>bold<\/b> claim\n…and more/);
  assert.match(d.text, /Stop these emails: https:\/\/chat.example\/v1\/notifications\/unsubscribe\?u=1&sig=x/);
  assert.match(d.html, /a &lt;b&gt;bold&lt;\/b&gt; claim/);
  assert.match(d.html, /Hi Dee &lt;3/);
  assert.match(d.html, /href="https:\/\/chat.example\/v1\/notifications\/unsubscribe\?u=1&amp;sig=x"/);
});
