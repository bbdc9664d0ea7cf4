/**
 * A loopback stand-in for GetStream's Video REST API that checks what GetStream checks:
 * `api_key` in the query, `stream-auth-type: jwt`, and an `Authorization` header (no
 * "Bearer") holding an HS256 server JWT `{server: true}` signed with the API secret; and
 * the body of each call it serves. Anything else is refused the way GetStream refuses it
 * (401/400 with a JSON error), and recorded so the test can assert nothing bad was sent.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { decodeProtectedHeader, jwtVerify } from 'jose';

export interface StandinRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
  body: any;
  /** Why it was refused, or null when accepted. */
  refused: string | null;
}

export class GetStreamStandin {
  readonly requests: StandinRequest[] = [];
  readonly users = new Map<string, { id: string }>();
  readonly calls = new Map<string, { cid: string; created_by_id: string; members: string[]; ended: boolean }>();
  private server!: Server;
  url = '';

  constructor(
    readonly apiKey: string,
    readonly apiSecret: string,
  ) {}

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        void this.handle(req, Buffer.concat(chunks)).then(([status, body]) => {
          res.writeHead(status, { 'content-type': 'application/json' });
          res.end(JSON.stringify(body));
        });
      });
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  accepted(path: RegExp): StandinRequest[] {
    return this.requests.filter((r) => r.refused === null && path.test(r.path));
  }

  private async handle(req: IncomingMessage, raw: Buffer): Promise<[number, unknown]> {
    const u = new URL(req.url ?? '/', 'http://x');
    let body: any;
    const rec: StandinRequest = { method: req.method ?? '', path: u.pathname, query: u.searchParams, headers: req.headers, body: null, refused: null };
    this.requests.push(rec);
    const refuse = (status: number, why: string): [number, unknown] => {
      rec.refused = why;
      return [status, { code: status === 401 ? 40 : 4, message: why, StatusCode: status }];
    };
    if (u.searchParams.get('api_key') !== this.apiKey) return refuse(401, 'api_key is missing or wrong');
    if (req.headers['stream-auth-type'] !== 'jwt') return refuse(401, 'stream-auth-type must be jwt');
    const auth = req.headers.authorization ?? '';
    if (auth.startsWith('Bearer ')) return refuse(401, 'server token is sent without "Bearer"');
    try {
      if (decodeProtectedHeader(auth).alg !== 'HS256') return refuse(401, 'alg must be HS256');
      const { payload } = await jwtVerify(auth, new TextEncoder().encode(this.apiSecret), { algorithms: ['HS256'] });
      if (payload.server !== true) return refuse(401, 'not a server token');
      if (payload.iat !== undefined) return refuse(401, 'the server token carries no iat');
    } catch (err) {
      return refuse(401, `bad server token: ${(err as Error).message}`);
    }
    if (!/^application\/json/.test(req.headers['content-type'] ?? '')) return refuse(400, 'content-type must be application/json');
    try {
      body = raw.length ? JSON.parse(raw.toString()) : {};
    } catch {
      return refuse(400, 'body is not JSON');
    }
    rec.body = body;
    if (req.method === 'POST' && u.pathname === '/api/v2/users') {
      if (!body.users || typeof body.users !== 'object') return refuse(400, 'users is required');
      for (const [id, user] of Object.entries<any>(body.users)) {
        if (user?.id !== id) return refuse(400, `users.${id}.id must equal its key`);
        this.users.set(id, { id });
      }
      return [201, { users: body.users, duration: '1ms' }];
    }
    const m = /^\/api\/v2\/video\/call\/([^/]+)\/([^/]+)(\/mark_ended)?$/.exec(u.pathname);
    if (req.method === 'POST' && m) {
      const [, type, id, ended] = m;
      const cid = `${type}:${id}`;
      if (!/^[A-Za-z0-9_-]{1,64}$/.test(id!)) return refuse(400, 'invalid call id');
      if (ended) {
        const c = this.calls.get(cid);
        if (!c) return refuse(404, 'call not found');
        c.ended = true;
        return [201, { duration: '1ms' }];
      }
      const data = body.data ?? {};
      if (typeof data.created_by_id !== 'string') return refuse(400, 'data.created_by_id is required for server-side calls');
      if (!this.users.has(data.created_by_id)) return refuse(400, 'created_by user does not exist');
      const members: string[] = [];
      for (const mem of data.members ?? []) {
        if (typeof mem?.user_id !== 'string' || !this.users.has(mem.user_id)) return refuse(400, 'members must be existing users');
        members.push(mem.user_id);
      }
      const existing = this.calls.get(cid);
      if (!existing) this.calls.set(cid, { cid, created_by_id: data.created_by_id, members, ended: false });
      return [201, { call: { cid, id, type, created_by: { id: data.created_by_id } }, members: members.map((user_id) => ({ user_id })), created: !existing, duration: '1ms' }];
    }
    return refuse(404, 'no such endpoint');
  }
}
