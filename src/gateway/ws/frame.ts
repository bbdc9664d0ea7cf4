import * as ws from 'ws';

/**
 * An event encoded once for many connections: its payload, and the whole WebSocket text
 * frame around it (header and payload in one buffer). A fan-out writes `frame` straight to
 * each connection's socket instead of handing the payload to each `ws` sender, which would
 * build a header for every connection and write two chunks (header, payload) each time.
 */
export interface EncodedEvent {
  payload: Buffer;
  frame: Buffer;
}

/**
 * `ws`'s own framing (`Sender.frame`, lib/sender.js: public, but not in @types/ws), so the
 * bytes are exactly what `socket.send(payload)` would write: a final, unmasked text frame
 * (a server never masks; compression is off on every connection, see transport.ts).
 */
const { Sender } = ws as unknown as {
  Sender: { frame(data: Buffer, options: { fin: boolean; opcode: number; mask: boolean; readOnly: boolean; rsv1: boolean }): Buffer[] };
};

const TEXT = 0x1;

export function encodeEvent(payload: Buffer): EncodedEvent {
  // [header, payload], or [header] alone for an empty payload.
  return { payload, frame: Buffer.concat(Sender.frame(payload, { fin: true, opcode: TEXT, mask: false, readOnly: true, rsv1: false })) };
}
