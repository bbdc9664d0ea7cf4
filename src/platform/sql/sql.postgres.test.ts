import assert from 'node:assert/strict';
import { test } from 'node:test';
import { StatementNames } from './sql.postgres.js';

test('a text is named the second time it runs, and keeps its name', () => {
  const n = new StatementNames(4);
  assert.equal(n.nameFor('SELECT 1 WHERE $1'), undefined);
  const name = n.nameFor('SELECT 1 WHERE $1');
  assert.ok(name);
  assert.equal(n.nameFor('SELECT 1 WHERE $1'), name);
  assert.notEqual(n.nameFor('SELECT 2 WHERE $1') ?? n.nameFor('SELECT 2 WHERE $1'), name);
});

test('at most `max` texts are ever named, and texts run once are remembered only up to a bound', () => {
  const n = new StatementNames(3);
  const names = new Set<string>();
  for (let i = 0; i < 10; i++) {
    n.nameFor(`q${i}`);
    const name = n.nameFor(`q${i}`);
    if (name) names.add(name);
  }
  assert.equal(names.size, 3);
  assert.equal(n.nameFor('q0'), [...names][0], 'the named ones keep their names');
  // A stream of one-off texts does not grow the memory without end.
  for (let i = 0; i < 10_000; i++) n.nameFor(`once ${i}`);
  assert.ok((n as unknown as { seen: Map<string, unknown> }).seen.size <= 12);
});
