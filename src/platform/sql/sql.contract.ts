/**
 * The SQL port's contract: every adapter must pass these. Run from
 * `test/sql.contract.test.ts` against PGlite and PostgreSQL.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { SqlDatabase } from './sql.port.js';
import { isUniqueViolation } from './sql.port.js';
import { migrate } from './migrator.js';

/** Registers the contract tests for an adapter produced by `open` (a fresh, empty database each call). */
export function sqlContract(open: () => Promise<{ db: SqlDatabase; dispose(): Promise<void> }>): void {
  test('migrations apply once and are a no-op the second time', async () => {
    const { db, dispose } = await open();
    try {
      const first = await migrate(db);
      assert.ok(first.length > 0);
      assert.deepEqual(await migrate(db), []);
      const { rows } = await db.query<{ n: number }>('SELECT count(*) AS n FROM schema_migrations');
      assert.equal(rows[0]!.n, first.length);
    } finally {
      await dispose();
    }
  });

  test('query parameters, int8 as number, timestamps as Date, jsonb round trip', async () => {
    const { db, dispose } = await open();
    try {
      const { rows } = await db.query<{ a: number; b: string; t: Date; j: { x: number[] } }>(
        `SELECT $1::bigint AS a, $2::text AS b, now() AS t, $3::jsonb AS j`,
        [42, "it's \"quoted\" ; DROP", JSON.stringify({ x: [1, 2] })],
      );
      assert.equal(rows[0]!.a, 42);
      assert.equal(typeof rows[0]!.a, 'number');
      assert.equal(rows[0]!.b, "it's \"quoted\" ; DROP");
      assert.ok(rows[0]!.t instanceof Date);
      assert.deepEqual(rows[0]!.j, { x: [1, 2] });
      const arr = await db.query<{ n: number }>('SELECT cardinality($1::text[]) AS n', [['a', 'b', 'c']]);
      assert.equal(arr.rows[0]!.n, 3);
    } finally {
      await dispose();
    }
  });

  test('a statement run again and again (prepared on PostgreSQL) keeps answering right, in transactions and after DDL', async () => {
    const { db, dispose } = await open();
    try {
      await db.exec('CREATE TABLE prep (id int PRIMARY KEY, v text)');
      const text = 'SELECT v FROM prep WHERE id = ANY($1::int[]) ORDER BY id';
      // More runs than PostgreSQL's custom-plan trials (5), with growing inputs.
      for (let i = 1; i <= 8; i++) {
        await db.query('INSERT INTO prep (id, v) VALUES ($1, $2)', [i, `v${i}`]);
        const { rows } = await db.query<{ v: string }>(text, [Array.from({ length: i }, (_, k) => k + 1)]);
        assert.deepEqual(rows.map((r) => r.v), Array.from({ length: i }, (_, k) => `v${k + 1}`));
      }
      await db.transaction(async (tx) => {
        const { rows } = await tx.query<{ v: string }>(text, [[2, 3]]);
        assert.deepEqual(rows.map((r) => r.v), ['v2', 'v3']);
      });
      const star = 'SELECT * FROM prep WHERE id = $1';
      for (let i = 0; i < 3; i++) assert.deepEqual((await db.query(star, [2])).rows, [{ id: 2, v: 'v2' }]);
      // A migration while the process runs: the kept plans are invalidated, not wrong, and
      // one whose columns changed (the `*`) runs again without its kept plan.
      await db.exec('ALTER TABLE prep ADD COLUMN w int; CREATE INDEX prep_v ON prep (v)');
      const { rows } = await db.query<{ v: string }>(text, [[1, 8]]);
      assert.deepEqual(rows.map((r) => r.v), ['v1', 'v8']);
      for (let i = 0; i < 3; i++) assert.deepEqual((await db.query(star, [2])).rows, [{ id: 2, v: 'v2', w: null }]);
    } finally {
      await dispose();
    }
  });

  test('transactions commit, roll back on throw, and report unique violations', async () => {
    const { db, dispose } = await open();
    try {
      await db.exec('CREATE TABLE t (id int PRIMARY KEY, v text); CREATE TABLE u (k text CONSTRAINT u_k UNIQUE)');
      await db.transaction(async (tx) => {
        await tx.query('INSERT INTO t VALUES (1, $1)', ['one']);
      });
      await assert.rejects(
        db.transaction(async (tx) => {
          await tx.query('INSERT INTO t VALUES (2, $1)', ['two']);
          throw new Error('boom');
        }),
        /boom/,
      );
      const { rows } = await db.query<{ id: number }>('SELECT id FROM t ORDER BY id');
      assert.deepEqual(rows.map((r) => r.id), [1]);
      const r = await db.query('UPDATE t SET v = $1 WHERE id = 1', ['uno']);
      assert.equal(r.rowCount, 1);
      await db.query('INSERT INTO u VALUES ($1)', ['k']);
      const err = await db.query('INSERT INTO u VALUES ($1)', ['k']).catch((e: unknown) => e);
      assert.ok(isUniqueViolation(err), String(err));
      assert.ok(isUniqueViolation(err, 'u_k'));
      // the database keeps working after an error inside a transaction
      await assert.rejects(db.transaction(async (tx) => tx.query('INSERT INTO u VALUES ($1)', ['k'])));
      assert.equal((await db.query('SELECT 1 AS one')).rows.length, 1);
    } finally {
      await dispose();
    }
  });

  test('row locks serialize concurrent read-modify-write', async () => {
    const { db, dispose } = await open();
    try {
      await db.exec('CREATE TABLE c (id int PRIMARY KEY, n int NOT NULL)');
      await db.query('INSERT INTO c VALUES (1, 0)');
      const seen = await Promise.all(
        Array.from({ length: 20 }, () =>
          db.transaction(async (tx) => {
            const { rows } = await tx.query<{ n: number }>('UPDATE c SET n = n + 1 WHERE id = 1 RETURNING n');
            return rows[0]!.n;
          }),
        ),
      );
      assert.deepEqual([...seen].sort((a, b) => a - b), Array.from({ length: 20 }, (_, i) => i + 1));
    } finally {
      await dispose();
    }
  });
}
