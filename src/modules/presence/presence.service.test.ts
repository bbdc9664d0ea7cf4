/**
 * PresenceService against PGlite, the in-process bus and presence store: a connect storm
 * is one membership query and one announcement per user on each of their conversations;
 * a second device and a flap inside one tick announce nothing.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../config.js';
import { createLogger } from '../../logger.js';
import { newId } from '../../ids.js';
import { openSqlDatabase, type SqlDatabase } from '../../platform/sql/index.js';
import { migrate } from '../../platform/sql/migrator.js';
import { MemoryBus } from '../../platform/bus/bus.memory.js';
import { MemoryPresenceStore } from '../../platform/presence/presence.memory.js';
import { ConversationsRepository } from '../conversations/conversations.repository.js';
import { Realtime } from '../realtime/realtime.js';
import { PresenceService } from './presence.service.js';

const logger = createLogger('silent');
let dir: string;
let db: SqlDatabase;
let queries = 0;
const users: string[] = [];
const groups: string[][] = [];
const stranger = newId();

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'parley-presence-'));
  db = await openSqlDatabase(loadConfig({ DATA_DIR: dir, LOG_LEVEL: 'silent' }, { dotenvPath: null }), logger);
  await migrate(db, logger);
  for (const id of [...Array.from({ length: 120 }, () => newId()), stranger]) {
    await db.query('INSERT INTO users (id, email, email_lower, username, display_name, password_hash) VALUES ($1, $2, $2, $3, $3, $4)', [id, `${id}@x.test`, `u${id}`, 'x']);
    if (id !== stranger) users.push(id);
  }
  // Four groups of 30; the first two users also share a second conversation.
  for (let g = 0; g < 4; g++) groups.push(users.slice(g * 30, g * 30 + 30));
  groups.push([users[0]!, users[1]!]);
  for (const members of groups) {
    const cid = newId();
    await db.query("INSERT INTO conversations (id, type, title, created_by) VALUES ($1, 'group', 'g', $2)", [cid, members[0]]);
    for (const u of members) await db.query("INSERT INTO members (conversation_id, user_id, role) VALUES ($1, $2, 'member')", [cid, u]);
  }
});
after(async () => {
  await db?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A presence service over a counting view of the real database, and what it published, by topic. */
function setup() {
  const bus = new MemoryBus(logger);
  const counting = { query: (text: string, params?: readonly unknown[]) => (queries++, db.query(text, params)) } as unknown as SqlDatabase;
  const published: { topic: string; payload: string }[] = [];
  const publishMany = bus.publishMany.bind(bus);
  bus.publishMany = async (topics, payload) => {
    for (const topic of topics) published.push({ topic, payload });
    await publishMany(topics, payload);
  };
  const presence = new PresenceService(new MemoryPresenceStore(), new ConversationsRepository(counting), new Realtime(bus, logger), 60, logger, 20);
  return { presence, published };
}

test('a connect storm: one membership query, each user announced once on each conversation and their own topic', async () => {
  const { presence, published } = setup();
  queries = 0;
  await Promise.all(users.map((u) => presence.connected(u, `c1-${u}`)));
  // A second device of some users: already online, not news.
  await Promise.all(users.slice(0, 10).map((u) => presence.connected(u, `c2-${u}`)));
  await presence.flush();
  assert.equal(queries, 1, 'one membership query for the whole batch');
  const online = published.filter((p) => JSON.parse(p.payload).status === 'online');
  for (const u of users) {
    const topics = online.filter((p) => JSON.parse(p.payload).userId === u).map((p) => p.topic);
    const expected = groups.filter((g) => g.includes(u)).length + 1;
    assert.equal(topics.length, expected, `user ${u}: one publish per conversation and their own topic`);
    assert.equal(new Set(topics).size, topics.length, 'no topic twice');
    assert.ok(topics.includes(`user:${u}`));
  }
  assert.equal(published.filter((p) => p.topic === `user:${stranger}`).length, 0, 'nothing reaches a stranger');
  // The last connection of a user closing is a change; the first of two is not.
  published.length = 0;
  await presence.disconnected(users[0]!, `c2-${users[0]}`);
  await presence.flush();
  assert.equal(published.length, 0);
  await presence.disconnected(users[0]!, `c1-${users[0]}`);
  await presence.flush();
  assert.ok(published.length > 0 && published.every((p) => JSON.parse(p.payload).status === 'offline' && JSON.parse(p.payload).lastSeenAt));
});

test('online then offline inside one tick announces nothing', async () => {
  const { presence, published } = setup();
  await presence.connected(users[5]!, 'flap');
  await presence.disconnected(users[5]!, 'flap');
  await presence.flush();
  assert.equal(published.length, 0);
});
