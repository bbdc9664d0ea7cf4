/**
 * Media upload helper for browsers and Node: asks Parley for an upload, PUTs the bytes
 * straight to the returned (presigned) URL with progress events, then completes it.
 *
 * Self-contained on purpose: it needs only a base URL and a way to get an access token,
 * so it works with the full SDK client or on its own.
 *
 *   const media = await uploadMedia(
 *     { baseUrl: 'https://chat.example.com', accessToken: () => token },
 *     file,
 *     { onProgress: ({ loaded, total }) => console.log(loaded / total) },
 *   );
 */
import type { Media } from './types.js';

/** The little the helper needs from a client. */
export interface UploadApi {
  baseUrl: string;
  accessToken(): string | Promise<string>;
}

export interface UploadProgress {
  /** Bytes sent so far. */
  loaded: number;
  total: number;
}

export interface UploadOptions {
  /** Default: the File's name, else "upload". */
  filename?: string;
  /** Default: the Blob's type, else application/octet-stream. */
  contentType?: string;
  onProgress?: (p: UploadProgress) => void;
  signal?: AbortSignal;
}

/** An upload step failed: `code` is Parley's error code, or `upload_failed` for the PUT. */
export class UploadError extends Error {
  constructor(
    readonly step: 'create' | 'upload' | 'complete',
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'UploadError';
  }
}

interface UploadTicket {
  mediaId: string;
  uploadUrl: string;
  uploadMethod: 'PUT';
  uploadHeaders: Record<string, string>;
  expiresAt: string;
}

/** Node streams progress in chunks of this size. */
const CHUNK = 64 * 1024;

/** Uploads `data` as media and returns the completed media (with its URLs). */
export async function uploadMedia(api: UploadApi, data: Blob | ArrayBuffer | Uint8Array, opts: UploadOptions = {}): Promise<Media> {
  const body = toBody(data);
  const size = body instanceof Blob ? body.size : body.byteLength;
  const contentType = opts.contentType || (body instanceof Blob && body.type) || 'application/octet-stream';
  const filename = opts.filename || (typeof File !== 'undefined' && data instanceof File ? data.name : '') || 'upload';

  const ticket = await callApi<UploadTicket>(api, 'create', 'POST', '/v1/media/uploads', { filename, contentType, size }, opts.signal);
  const url = new URL(ticket.uploadUrl, api.baseUrl).toString();
  const report = opts.onProgress ?? (() => {});
  report({ loaded: 0, total: size });
  if (typeof XMLHttpRequest !== 'undefined') {
    await putWithXhr(url, body, ticket.uploadHeaders, size, report, opts.signal);
  } else {
    await putWithFetch(url, body, ticket.uploadHeaders, size, report, opts.signal);
  }
  report({ loaded: size, total: size });
  return callApi<Media>(api, 'complete', 'POST', `/v1/media/${encodeURIComponent(ticket.mediaId)}/complete`, undefined, opts.signal);
}

/** Bytes as a type every transport accepts (a shared-memory view is copied). */
function toBody(data: Blob | ArrayBuffer | Uint8Array): Blob | Uint8Array<ArrayBuffer> {
  if (data instanceof Blob) return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  return data.buffer instanceof ArrayBuffer ? (data as Uint8Array<ArrayBuffer>) : new Uint8Array(data);
}

async function callApi<T>(api: UploadApi, step: 'create' | 'complete', method: string, path: string, json: unknown, signal?: AbortSignal): Promise<T> {
  const headers: Record<string, string> = { authorization: `Bearer ${await api.accessToken()}` };
  const init: RequestInit = { method, headers };
  if (json !== undefined) {
    headers['content-type'] = 'application/json';
    init.body = JSON.stringify(json);
  }
  if (signal) init.signal = signal;
  const res = await fetch(new URL(path, api.baseUrl), init);
  const text = await res.text();
  let parsed: unknown = undefined;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    /* not JSON */
  }
  if (!res.ok) {
    const err = (parsed as { error?: { code?: string; message?: string } } | undefined)?.error;
    throw new UploadError(step, res.status, err?.code ?? 'http_error', err?.message ?? `${method} ${path} answered ${res.status}`);
  }
  return parsed as T;
}

function putFailed(status: number, detail: string): UploadError {
  // Object stores answer in XML; keep the gist for the message.
  const code = /<Code>([^<]+)<\/Code>/.exec(detail)?.[1];
  return new UploadError('upload', status, 'upload_failed', `Upload refused (${status}${code ? ` ${code}` : ''}).`);
}

/** Browsers: XMLHttpRequest is still the only API with upload progress events. */
function putWithXhr(
  url: string,
  body: Blob | Uint8Array<ArrayBuffer>,
  headers: Record<string, string>,
  size: number,
  report: (p: UploadProgress) => void,
  signal?: AbortSignal,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('PUT', url);
    for (const [k, v] of Object.entries(headers)) xhr.setRequestHeader(k, v);
    xhr.upload.onprogress = (e) => report({ loaded: e.loaded, total: e.lengthComputable ? e.total : size });
    xhr.onload = () => (xhr.status >= 200 && xhr.status < 300 ? resolve() : reject(putFailed(xhr.status, String(xhr.responseText ?? ''))));
    xhr.onerror = () => reject(new UploadError('upload', 0, 'network_error', 'The upload failed (network error).'));
    xhr.onabort = () => reject(new UploadError('upload', 0, 'aborted', 'The upload was aborted.'));
    if (signal) {
      if (signal.aborted) return xhr.abort();
      signal.addEventListener('abort', () => xhr.abort(), { once: true });
    }
    xhr.send(body);
  });
}

/**
 * Node (and other runtimes without XHR): a streamed fetch body, counting bytes as the HTTP
 * client pulls them. Content-Length is set explicitly because presigned URLs sign it, and
 * a streamed body would otherwise go out chunked.
 */
async function putWithFetch(
  url: string,
  body: Blob | Uint8Array<ArrayBuffer>,
  headers: Record<string, string>,
  size: number,
  report: (p: UploadProgress) => void,
  signal?: AbortSignal,
): Promise<void> {
  let loaded = 0;
  let offset = 0;
  const reader = body instanceof Blob ? body.stream().getReader() : undefined;
  const stream = new ReadableStream<Uint8Array>({
    async pull(controller) {
      let chunk: Uint8Array | undefined;
      if (reader) {
        const r = await reader.read();
        chunk = r.done ? undefined : r.value;
      } else if (offset < size) {
        chunk = (body as Uint8Array).subarray(offset, Math.min(offset + CHUNK, size));
        offset += chunk.length;
      }
      if (!chunk) return controller.close();
      controller.enqueue(chunk);
      loaded += chunk.length;
      report({ loaded, total: size });
    },
    cancel(reason) {
      void reader?.cancel(reason);
    },
  });
  const init: RequestInit & { duplex: 'half' } = {
    method: 'PUT',
    headers: { ...headers, 'content-length': String(size) },
    body: stream,
    duplex: 'half',
  };
  if (signal) init.signal = signal;
  let res: Response;
  try {
    res = await fetch(url, init);
  } catch (err) {
    if (signal?.aborted) throw new UploadError('upload', 0, 'aborted', 'The upload was aborted.');
    throw new UploadError('upload', 0, 'network_error', `The upload failed: ${(err as Error).message}`);
  }
  const text = await res.text();
  if (!res.ok) throw putFailed(res.status, text);
}
