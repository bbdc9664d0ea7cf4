/**
 * The sync cursor: opaque to clients (base64url JSON), the one place it is encoded and
 * decoded. It holds one change-scan position (src/platform/changes.ts) per stream: `m` the
 * message store's changes, `e` the conversation events.
 *
 * Format v2: `{v: 2, m: Pos, e: Pos}`, Pos = `{s?, t?, u?, a?}`: `s` the `from` snapshot,
 * `t` the `from` time (ms), `u` the `until` snapshot and `a` = [change, id] the keyset of a
 * scan being paged. A snapshot is compact text `xmin:xmax-xmin:d1,d2` (the xip as offsets
 * from xmin).
 *
 * Format v1 (time-based: `{v: 1, m: {at, id, c}, e: {at, id, c}}`) is still accepted: it is
 * served once by time, with the overlap it always had, and answered with a v2 cursor.
 */
import { invalid } from '../../errors.js';
import { isId } from '../../ids.js';
import type { ChangeScan, ChangeSnapshot } from '../../platform/changes.js';

export interface SyncCursor {
  m: ChangeScan;
  e: ChangeScan;
}

/** How far back a v1 cursor position that had not started paging rescanned (its late-commit window). */
const V1_OVERLAP_MS = 10_000;

/**
 * In-progress transactions a cursor snapshot keeps. Past that, the snapshot's xmax is
 * lowered to the first one left out: everything from there on counts as unseen, so the
 * next sync may resend a few changes but never skips one, and the cursor stays short.
 */
const MAX_CURSOR_XIP = 16;

/** Cursor times must be real dates (year 2000 to 9999): anything else is a forged cursor. */
const MIN_AT = Date.UTC(2000, 0, 1);
const MAX_AT = Date.UTC(9999, 11, 31);
/** Change numbers are xid8 (or Mongo change numbers): kept within a signed 64-bit range. */
const MAX_CHANGE = 2n ** 63n - 1n;
const UINT = /^(0|[1-9]\d{0,18})$/;
/** Event ids are PostgreSQL bigints, read back as JS numbers: only safe positive integers. */
const EVENT_ID = /^[1-9]\d{0,15}$/;
const isEventId = (id: string) => EVENT_ID.test(id) && Number.isSafeInteger(Number(id));

interface PosJson {
  s?: string;
  t?: number;
  u?: string;
  a?: [string, string];
}

function compact(s: ChangeSnapshot): ChangeSnapshot {
  if (s.xip.length <= MAX_CURSOR_XIP) return s;
  return { xmin: s.xmin, xmax: s.xip[MAX_CURSOR_XIP]!, xip: s.xip.slice(0, MAX_CURSOR_XIP) };
}

function snapOut(s: ChangeSnapshot): string {
  const c = compact(s);
  return `${c.xmin}:${c.xmax - c.xmin}:${c.xip.map((x) => x - c.xmin).join(',')}`;
}

function uint(text: string | undefined): bigint {
  if (text === undefined || !UINT.test(text)) throw new Error('bad number');
  const n = BigInt(text);
  if (n > MAX_CHANGE) throw new Error('bad number');
  return n;
}

/** A snapshot as PostgreSQL accepts it: 1 <= xmin <= xmax, xip strictly ascending within [xmin, xmax). */
function snapIn(text: unknown): ChangeSnapshot {
  if (typeof text !== 'string') throw new Error('bad snapshot');
  const parts = text.split(':');
  if (parts.length !== 3) throw new Error('bad snapshot');
  const xmin = uint(parts[0]);
  const xmax = xmin + uint(parts[1]);
  const xip = parts[2] === '' ? [] : parts[2]!.split(',').map((d) => xmin + uint(d));
  if (xmin < 1n || xmax > MAX_CHANGE || xip.length > MAX_CURSOR_XIP) throw new Error('bad snapshot');
  for (let i = 0; i < xip.length; i++) if (xip[i]! >= xmax || (i > 0 && xip[i]! <= xip[i - 1]!)) throw new Error('bad snapshot');
  return { xmin, xmax, xip };
}

function posOut(p: ChangeScan): PosJson {
  const out: PosJson = {};
  if (p.from.snapshot) out.s = snapOut(p.from.snapshot);
  if (p.from.since) out.t = p.from.since.getTime();
  if (p.until) out.u = snapOut(p.until);
  if (p.after) out.a = [String(p.after.change), p.after.id];
  return out;
}

function validTime(t: unknown): t is number {
  return typeof t === 'number' && Number.isInteger(t) && t >= MIN_AT && t <= MAX_AT;
}

function posIn(raw: unknown, isItemId: (id: string) => boolean): ChangeScan {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new Error('bad position');
  const p = raw as Record<string, unknown>;
  if (Object.keys(p).some((k) => !['s', 't', 'u', 'a'].includes(k))) throw new Error('bad position');
  if (p.s === undefined && p.t === undefined) throw new Error('bad position');
  if (p.t !== undefined && !validTime(p.t)) throw new Error('bad time');
  const from = { ...(p.s !== undefined ? { snapshot: snapIn(p.s) } : {}), ...(p.t !== undefined ? { since: new Date(p.t as number) } : {}) };
  // A scan being paged has both its snapshot and its keyset, or neither.
  if ((p.u === undefined) !== (p.a === undefined)) throw new Error('bad position');
  if (p.u === undefined) return { from };
  const a = p.a;
  if (!Array.isArray(a) || a.length !== 2 || typeof a[0] !== 'string' || typeof a[1] !== 'string' || !isItemId(a[1])) throw new Error('bad keyset');
  return { from, until: snapIn(p.u), after: { change: uint(a[0]), id: a[1] } };
}

/** A v1 stream position, served by time: a continuing one from its last item's time, a fresh one with its overlap. */
function v1PosIn(raw: unknown, isItemId: (id: string) => boolean): ChangeScan {
  if (typeof raw !== 'object' || raw === null) throw new Error('bad position');
  const { at, id, c } = raw as Record<string, unknown>;
  if (!validTime(at) || typeof c !== 'boolean' || typeof id !== 'string') throw new Error('bad position');
  // A fresh position names no item; a continuing one names the last item delivered.
  if (c ? !isItemId(id) : id !== '') throw new Error('bad position');
  return { from: { since: new Date(c ? at : at - V1_OVERLAP_MS) } };
}

export function encodeCursor(c: SyncCursor): string {
  return Buffer.from(JSON.stringify({ v: 2, m: posOut(c.m), e: posOut(c.e) })).toString('base64url');
}

/**
 * Decodes a sync cursor (v2, or v1 mapped to a time-based position) and checks every field
 * with its range: a forged cursor is `invalid_request`, never a failing query.
 */
export function decodeCursor(raw: string): SyncCursor {
  try {
    const c = JSON.parse(Buffer.from(raw, 'base64url').toString()) as Record<string, unknown> | null;
    if (typeof c !== 'object' || c === null) throw new Error('bad cursor');
    if (c.v === 2) return { m: posIn(c.m, isId), e: posIn(c.e, isEventId) };
    if (c.v === 1) return { m: v1PosIn(c.m, isId), e: v1PosIn(c.e, isEventId) };
    throw new Error('bad cursor');
  } catch {
    throw invalid('Invalid sync cursor.');
  }
}
