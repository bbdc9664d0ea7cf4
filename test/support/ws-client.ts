import WebSocket from 'ws';

/** A raw WebSocket test client that records every frame and can wait for one. */
export class WsTestClient {
  readonly frames: any[] = [];
  closeCode: number | null = null;
  private waiters: { pred: (f: any) => boolean; resolve: (f: any) => void }[] = [];
  readonly ws: WebSocket;

  private constructor(ws: WebSocket) {
    this.ws = ws;
    ws.on('message', (d) => {
      const f = JSON.parse(d.toString());
      this.frames.push(f);
      this.waiters = this.waiters.filter((w) => {
        if (!w.pred(f)) return true;
        w.resolve(f);
        return false;
      });
    });
    ws.on('close', (code) => (this.closeCode = code));
  }

  /** Connects and waits for `ready`. */
  static async connect(wsUrl: string, token: string): Promise<WsTestClient> {
    const ws = new WebSocket(`${wsUrl}?token=${encodeURIComponent(token)}`);
    const c = new WsTestClient(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
      ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
    });
    await c.waitFor((f) => f.type === 'ready');
    return c;
  }

  send(frame: unknown): void {
    this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  /** Resolves with the first frame (already received or coming) matching `pred`. */
  waitFor(pred: (f: any) => boolean, timeoutMs = 5000): Promise<any> {
    const seen = this.frames.find(pred);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for a frame; got: ${JSON.stringify(this.frames.slice(-5))}`)), timeoutMs);
      this.waiters.push({ pred, resolve: (f) => (clearTimeout(timer), resolve(f)) });
    });
  }

  /** Sends a frame with an id and waits for the ack or error with that id. */
  async request(frame: Record<string, unknown>, timeoutMs = 5000): Promise<any> {
    const id = `r${Math.random().toString(36).slice(2)}`;
    this.send({ ...frame, id });
    return this.waitFor((f) => f.id === id && (f.type === 'ack' || f.type === 'error' || f.type === 'resumed'), timeoutMs);
  }

  async waitClosed(timeoutMs = 5000): Promise<number> {
    const start = Date.now();
    while (this.closeCode === null) {
      if (Date.now() - start > timeoutMs) throw new Error('socket did not close');
      await new Promise((r) => setTimeout(r, 20));
    }
    return this.closeCode;
  }

  close(): void {
    this.ws.close();
  }
}

/** Gives pub/sub a moment to deliver, for asserting that something did NOT arrive. */
export const settle = (ms = 300): Promise<void> => new Promise((r) => setTimeout(r, ms));
