/**
 * The test harness: starts the real server in-process on a random port against PGlite
 * (in a temp directory) or the machine's PostgreSQL (in a fresh database dropped at the
 * end), and helpers to talk to it as a client does.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, type Role } from '../src/config.js';
import { startParley, type Parley, type StartOptions } from '../src/app.js';
import { createTestDatabase } from './support/postgres.js';

export type SqlBackend = 'pglite' | 'postgres';

/** Backends every SQL-touching suite runs against; narrow with TEST_SQL_BACKENDS=pglite. */
export const SQL_BACKENDS: SqlBackend[] = (process.env.TEST_SQL_BACKENDS ?? 'pglite,postgres')
  .split(',')
  .map((s) => s.trim())
  .filter((s): s is SqlBackend => s === 'pglite' || s === 'postgres');

export const TEST_JWT_SECRET = 'test-secret-test-secret-test-secret-0123456789';

export interface TestServer {
  parley: Parley;
  url: string;
  wsUrl: string;
  dataDir: string;
  /** Set for the postgres backend. */
  databaseUrl?: string;
  stop(): Promise<void>;
  /** Stops the server but keeps its data, for restart tests. */
  stopKeepingData(): Promise<void>;
}

export interface TestServerOptions {
  sql?: SqlBackend;
  env?: Record<string, string>;
  roles?: Role[];
  /** Reuse an existing data directory / database (restart tests). */
  dataDir?: string;
  databaseUrl?: string;
  /** Wraps the server's SQL database (statement counting). */
  wrapSql?: StartOptions['wrapSql'];
}

/** Starts a real Parley on 127.0.0.1 with a random port. */
export async function startTestServer(opts: TestServerOptions = {}): Promise<TestServer> {
  const sql = opts.sql ?? 'pglite';
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'parley-test-'));
  let db: { url: string; drop(): Promise<void> } | undefined;
  let databaseUrl = opts.databaseUrl;
  if (sql === 'postgres' && !databaseUrl) {
    db = await createTestDatabase();
    databaseUrl = db.url;
  }
  const env: Record<string, string> = {
    PORT: '0',
    HOST: '127.0.0.1',
    DATA_DIR: dataDir,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    JWT_SECRET: TEST_JWT_SECRET,
    // Tests sign up many users from one address.
    RATE_LIMIT_SIGNUP_IP: '100000/10m',
    RATE_LIMIT_LOGIN_IP: '100000/10m',
    ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
    ...opts.env,
  };
  const config = loadConfig(env, { dotenvPath: null });
  let parley: Parley;
  try {
    parley = await startParley(config, { ...(opts.roles ? { roles: opts.roles } : {}), ...(opts.wrapSql ? { wrapSql: opts.wrapSql } : {}) });
  } catch (err) {
    await db?.drop();
    throw err;
  }
  const url = parley.url;
  const server: TestServer = {
    parley,
    url,
    wsUrl: url.replace(/^http/, 'ws') + '/v1/ws',
    dataDir,
    async stopKeepingData() {
      await parley.stop();
    },
    async stop() {
      await parley.stop();
      await db?.drop();
      if (!opts.dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
  if (databaseUrl) server.databaseUrl = databaseUrl;
  return server;
}

export interface Res<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

/** A plain HTTP call, as a client makes it. */
export async function call<T = any>(
  base: string,
  method: string,
  path: string,
  opts: { token?: string; body?: unknown; rawBody?: string; headers?: Record<string, string> } = {},
): Promise<Res<T>> {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  let body: string | undefined;
  if (opts.rawBody !== undefined) {
    body = opts.rawBody;
    headers['content-type'] ??= 'application/json';
  } else if (opts.body !== undefined) {
    body = JSON.stringify(opts.body);
    headers['content-type'] = 'application/json';
  }
  const r = await fetch(base + path, { method, headers, ...(body !== undefined ? { body } : {}) });
  const text = await r.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    /* not JSON: keep the text */
  }
  return { status: r.status, body: parsed as T, headers: r.headers };
}

let counter = 0;

export interface TestUser {
  id: string;
  username: string;
  email: string;
  password: string;
  accessToken: string;
  refreshToken: string;
}

/** Signs up a fresh user with a unique name. */
export async function signup(base: string, name = 'user'): Promise<TestUser> {
  counter += 1;
  const username = `${name}_${process.pid}_${counter}_${Math.random().toString(36).slice(2, 6)}`.slice(0, 32).toLowerCase();
  const email = `${username}@example.test`;
  const password = 'correct horse battery';
  const r = await call(base, 'POST', '/v1/auth/signup', { body: { email, username, password, displayName: name } });
  if (r.status !== 201) throw new Error(`signup failed: ${r.status} ${JSON.stringify(r.body)}`);
  return { id: r.body.user.id, username, email, password, accessToken: r.body.accessToken, refreshToken: r.body.refreshToken };
}
