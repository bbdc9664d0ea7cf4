import { test } from 'node:test';
import assert from 'node:assert/strict';
import { snippetOf } from './search.service.js';
import { searchTerms } from '../../platform/message-store/search-terms.js';

const marked = (text: string, q: string) => {
  const { snippet, highlights } = snippetOf(text, searchTerms(q));
  return highlights.map((h) => snippet.slice(h.start, h.start + h.length));
};

test('snippets mark every word that starts with a term, case-insensitively, in any script', () => {
  assert.deepEqual(marked('Deploy the deployment, then DEPLOYED', 'deploy'), ['Deploy', 'deployment', 'DEPLOYED']);
  assert.deepEqual(marked('Привет мир, привет!', 'прив'), ['Привет', 'привет']);
  assert.deepEqual(marked('redeploy is not a prefix match', 'deploy'), []);
});

test('a long text is cut around the first match, on a word boundary, with ellipses', () => {
  const text = `${'lorem ipsum '.repeat(30)}the needle is here ${'dolor sit '.repeat(40)}`;
  const { snippet, highlights } = snippetOf(text, ['needle']);
  assert.ok(snippet.startsWith('…') && snippet.endsWith('…'));
  assert.ok(snippet.length <= 202);
  assert.equal(highlights.length, 1);
  assert.equal(snippet.slice(highlights[0]!.start, highlights[0]!.start + highlights[0]!.length), 'needle');
  assert.ok(!snippet.slice(1).startsWith(' '), 'starts at a word');
});

test('search terms: letters and digits of any script, lowercased, deduplicated; punctuation and tsquery syntax dropped', () => {
  assert.deepEqual(searchTerms("Hello, hello! 'x' & y:* | (Zürich) 42"), ['hello', 'x', 'y', 'zürich', '42']);
  assert.deepEqual(searchTerms('!!! ---'), []);
  assert.deepEqual(searchTerms(null), []);
});
