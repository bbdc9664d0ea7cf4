/**
 * Which uploads Parley accepts: the allow-list of declared content types, the class each
 * belongs to (its size limit, how it is served), and which sniffed types may back it.
 *
 * Never allowed, on purpose: `text/html`, `application/xhtml+xml`, `image/svg+xml`, XML and
 * JavaScript. Download URLs are opened directly by browsers, and those types execute script
 * when rendered inline: from the local adapter they would run on Parley's own origin (the
 * web client's, where its tokens live), from S3/a CDN on a media origin shared by every
 * user. Such a file can still be shared as `application/octet-stream`, which is always
 * served as an attachment download (with `nosniff`), never rendered.
 */
import type { Config } from '../../config.js';

export type MediaKind = 'image' | 'video' | 'audio' | 'file';

interface TypeRule {
  kind: MediaKind;
  /**
   * Types `file-type` may report for bytes of this declared type. `null` stands for "no
   * known signature" (plain text); '*' accepts anything (an opaque download).
   */
  sniffed: readonly (string | null)[] | '*';
  /** Text types must also decode as UTF-8 without NUL bytes. */
  text?: boolean;
}

// Images are accepted whichever image format the bytes turn out to be: a .png that is
// really a JPEG is common and harmless (browsers and sharp sniff images themselves).
const IMAGE = ['image/jpeg', 'image/png', 'image/apng', 'image/gif', 'image/webp', 'image/avif'];
const VIDEO = ['video/mp4', 'video/x-m4v', 'video/webm', 'video/quicktime'];
// Audio often lives in video containers (webm, mp4) that the sniffer cannot tell apart.
const AUDIO = ['audio/mpeg', 'audio/ogg', 'audio/ogg; codecs=opus', 'audio/opus', 'audio/wav', 'audio/vnd.wave', 'audio/x-wav', 'audio/aac', 'audio/mp4', 'audio/x-m4a', 'audio/webm', 'video/webm', 'video/mp4'];
// OOXML/ODF documents are zip files; the sniffer names them only when the right entry
// comes first in the archive.
const zipDoc = (t: string) => [t, 'application/zip'];
const TEXT: TypeRule = { kind: 'file', sniffed: [null], text: true };

const RULES: Record<string, TypeRule> = {
  'image/jpeg': { kind: 'image', sniffed: IMAGE },
  'image/png': { kind: 'image', sniffed: IMAGE },
  'image/gif': { kind: 'image', sniffed: IMAGE },
  'image/webp': { kind: 'image', sniffed: IMAGE },
  'image/avif': { kind: 'image', sniffed: IMAGE },

  'video/mp4': { kind: 'video', sniffed: VIDEO },
  'video/webm': { kind: 'video', sniffed: VIDEO },
  'video/quicktime': { kind: 'video', sniffed: VIDEO },

  'audio/mpeg': { kind: 'audio', sniffed: AUDIO },
  'audio/ogg': { kind: 'audio', sniffed: AUDIO },
  'audio/wav': { kind: 'audio', sniffed: AUDIO },
  'audio/webm': { kind: 'audio', sniffed: AUDIO },
  'audio/aac': { kind: 'audio', sniffed: AUDIO },
  'audio/mp4': { kind: 'audio', sniffed: AUDIO },

  'application/pdf': { kind: 'file', sniffed: ['application/pdf'] },
  'application/zip': { kind: 'file', sniffed: ['application/zip'] },
  'application/gzip': { kind: 'file', sniffed: ['application/gzip'] },
  'application/x-7z-compressed': { kind: 'file', sniffed: ['application/x-7z-compressed'] },
  'application/rtf': { kind: 'file', sniffed: ['application/rtf'] },
  'application/msword': { kind: 'file', sniffed: ['application/x-cfb'] },
  'application/vnd.ms-excel': { kind: 'file', sniffed: ['application/x-cfb'] },
  'application/vnd.ms-powerpoint': { kind: 'file', sniffed: ['application/x-cfb'] },
  'application/vnd.openxmlformats-officedocument.wordprocessingml.document': { kind: 'file', sniffed: zipDoc('application/vnd.openxmlformats-officedocument.wordprocessingml.document') },
  'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet': { kind: 'file', sniffed: zipDoc('application/vnd.openxmlformats-officedocument.spreadsheetml.sheet') },
  'application/vnd.openxmlformats-officedocument.presentationml.presentation': { kind: 'file', sniffed: zipDoc('application/vnd.openxmlformats-officedocument.presentationml.presentation') },
  'application/vnd.oasis.opendocument.text': { kind: 'file', sniffed: zipDoc('application/vnd.oasis.opendocument.text') },
  'application/vnd.oasis.opendocument.spreadsheet': { kind: 'file', sniffed: zipDoc('application/vnd.oasis.opendocument.spreadsheet') },
  'application/vnd.oasis.opendocument.presentation': { kind: 'file', sniffed: zipDoc('application/vnd.oasis.opendocument.presentation') },
  'text/plain': TEXT,
  'text/csv': TEXT,
  'text/markdown': TEXT,
  'application/json': TEXT,
  'application/octet-stream': { kind: 'file', sniffed: '*' },
};

/** Names clients commonly send for an allowed type. */
const ALIASES: Record<string, string> = {
  'image/jpg': 'image/jpeg',
  'image/pjpeg': 'image/jpeg',
  'audio/mp3': 'audio/mpeg',
  'audio/x-wav': 'audio/wav',
  'audio/wave': 'audio/wav',
  'audio/vnd.wave': 'audio/wav',
  'audio/x-m4a': 'audio/mp4',
  'application/x-zip-compressed': 'application/zip',
  'text/x-markdown': 'text/markdown',
};

const MEDIA_TYPE = /^[a-z0-9][a-z0-9!#$&^_.+-]{0,126}\/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$/;

export type ContentTypeCheck = { ok: true; contentType: string; kind: MediaKind } | { ok: false; reason: 'malformed' | 'not_allowed'; contentType: string };

/** Normalises a declared Content-Type (parameters dropped, aliases resolved) and classifies it. */
export function classifyContentType(declared: string): ContentTypeCheck {
  const essence = (declared.split(';')[0] ?? '').trim().toLowerCase();
  if (!MEDIA_TYPE.test(essence)) return { ok: false, reason: 'malformed', contentType: essence };
  const contentType = ALIASES[essence] ?? essence;
  const rule = RULES[contentType];
  if (!rule) return { ok: false, reason: 'not_allowed', contentType };
  return { ok: true, contentType, kind: rule.kind };
}

/** The allowed declared types (for error messages and documentation). */
export const ALLOWED_CONTENT_TYPES: readonly string[] = Object.keys(RULES);

/**
 * Whether the stored bytes may be what was declared: `sniffed` is what `file-type`
 * recognised in `prefix` (undefined: no known signature). Plain text and unknown binary
 * are only acceptable for the file class.
 */
export function sniffMatches(contentType: string, sniffed: string | undefined, prefix: Uint8Array): boolean {
  const rule = RULES[contentType];
  if (!rule) return false;
  if (rule.sniffed === '*') return true;
  if (!rule.sniffed.includes(sniffed ?? null)) return false;
  return !rule.text || looksLikeText(prefix);
}

/** UTF-8 without NUL bytes; a multi-byte character cut at the end of the prefix is fine. */
function looksLikeText(prefix: Uint8Array): boolean {
  if (prefix.includes(0)) return false;
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(prefix, { stream: true });
    return true;
  } catch {
    return false;
  }
}

/** Largest upload of each class, from configuration. */
export function sizeLimit(config: Pick<Config, 'MEDIA_MAX_IMAGE_BYTES' | 'MEDIA_MAX_VIDEO_BYTES' | 'MEDIA_MAX_AUDIO_BYTES' | 'MEDIA_MAX_FILE_BYTES'>, kind: MediaKind): number {
  switch (kind) {
    case 'image':
      return config.MEDIA_MAX_IMAGE_BYTES;
    case 'video':
      return config.MEDIA_MAX_VIDEO_BYTES;
    case 'audio':
      return config.MEDIA_MAX_AUDIO_BYTES;
    case 'file':
      return config.MEDIA_MAX_FILE_BYTES;
  }
}

/** Images, video and audio play in the page; everything else downloads as a file. */
export function dispositionType(kind: MediaKind): 'inline' | 'attachment' {
  return kind === 'file' ? 'attachment' : 'inline';
}
