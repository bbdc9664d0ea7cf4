/**
 * The SSRF guard for link previews: the server fetches pages named by users, so it must
 * never be steered at itself or its network. Every address a host name resolves to is
 * checked (after DNS, so a public name pointing at 10.0.0.1 is refused), the connection
 * uses exactly the checked address (no second lookup to rebind), each redirect is checked
 * again, and the body and the time spent are bounded.
 */
import { lookup as dnsLookup } from 'node:dns/promises';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import ipaddr from 'ipaddr.js';

/** Why a fetch was refused (stable reasons, kept with a failed preview). */
export type GuardReason = 'bad_url' | 'blocked_address' | 'dns_failed' | 'too_many_redirects' | 'too_large' | 'timeout' | 'http_status' | 'not_html' | 'network';

export class GuardError extends Error {
  constructor(
    readonly reason: GuardReason,
    message: string,
  ) {
    super(message);
    this.name = 'GuardError';
  }
}

/**
 * True for an address on the public internet: not private, loopback, link-local, unique
 * local, CGNAT, multicast, broadcast, unspecified, documentation/benchmark or other
 * reserved space. IPv4-mapped IPv6 (::ffff:127.0.0.1) is judged as the IPv4 it carries;
 * NAT64, 6to4 and Teredo forms, which embed other addresses, are refused.
 */
export function isPublicAddress(address: string): boolean {
  if (!ipaddr.isValid(address)) return false;
  let ip = ipaddr.parse(address);
  if (ip.kind() === 'ipv6' && (ip as ipaddr.IPv6).isIPv4MappedAddress()) ip = (ip as ipaddr.IPv6).toIPv4Address();
  return ip.range() === 'unicast';
}

export interface GuardOptions {
  /** Host names (lower case, optionally `host:port`) fetched even on a private address. */
  allowHosts: readonly string[];
  maxBytes: number;
  timeoutMs: number;
  maxRedirects: number;
  /** For tests: resolves a host name to addresses (default: the system resolver). */
  resolve?: (host: string) => Promise<string[]>;
}

export interface GuardedResponse {
  url: string;
  contentType: string;
  body: Buffer;
}

const defaultResolve = async (host: string): Promise<string[]> => (await dnsLookup(host, { all: true, verbatim: true })).map((a) => a.address);

function allowed(url: URL, allowHosts: readonly string[]): boolean {
  const host = url.hostname.toLowerCase().replace(/^\[|\]$/g, '');
  return allowHosts.some((h) => h === host || h === `${host}:${url.port || (url.protocol === 'https:' ? '443' : '80')}` || h === url.host.toLowerCase());
}

/** Resolves and checks the host of `url`; returns the address to connect to. */
async function checkedAddress(url: URL, opts: GuardOptions): Promise<{ address: string; family: 4 | 6 }> {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const trusted = allowed(url, opts.allowHosts);
  let addresses: string[];
  if (isIP(host)) addresses = [host];
  else {
    try {
      addresses = await (opts.resolve ?? defaultResolve)(host);
    } catch {
      throw new GuardError('dns_failed', `Could not resolve ${host}.`);
    }
  }
  if (addresses.length === 0) throw new GuardError('dns_failed', `No address for ${host}.`);
  // Every address must pass: a name with one public and one private address is refused,
  // since the connection might pick either.
  if (!trusted && !addresses.every(isPublicAddress)) throw new GuardError('blocked_address', `${host} resolves to a private or reserved address.`);
  const address = addresses[0]!;
  return { address, family: isIP(address) === 6 ? 6 : 4 };
}

function parseUrl(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new GuardError('bad_url', 'Not a URL.');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new GuardError('bad_url', 'Only http and https links are fetched.');
  if (url.username || url.password) throw new GuardError('bad_url', 'Links with credentials are not fetched.');
  return url;
}

/** One request to an already checked address; resolves with the response head. */
function requestOnce(url: URL, target: { address: string; family: 4 | 6 }, signal: AbortSignal): Promise<IncomingMessage> {
  // The connection goes to the address that was checked, whatever DNS says now.
  const lookup: LookupFunction = (_host, options, cb) => {
    if ((options as { all?: boolean }).all) (cb as unknown as (e: null, a: { address: string; family: number }[]) => void)(null, [{ address: target.address, family: target.family }]);
    else cb(null, target.address, target.family);
  };
  const req = (url.protocol === 'https:' ? httpsRequest : httpRequest)(url, {
    method: 'GET',
    lookup,
    signal,
    headers: { 'user-agent': 'ParleyLinkPreview/1 (+link previews)', accept: 'text/html,application/xhtml+xml;q=0.9,*/*;q=0.1', 'accept-encoding': 'identity' },
  });
  return new Promise((resolve, reject) => {
    req.once('response', resolve);
    req.once('error', reject);
    req.end();
  });
}

/** Reads at most `max` bytes; more is `too_large` (the connection is dropped). */
async function readBounded(res: IncomingMessage, max: number): Promise<Buffer> {
  const declared = Number(res.headers['content-length']);
  if (Number.isFinite(declared) && declared > max) {
    res.destroy();
    throw new GuardError('too_large', `The page is ${declared} bytes; at most ${max} are read.`);
  }
  const chunks: Buffer[] = [];
  let seen = 0;
  for await (const chunk of res as AsyncIterable<Buffer>) {
    seen += chunk.length;
    if (seen > max) {
      res.destroy();
      throw new GuardError('too_large', `The page is over ${max} bytes.`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/**
 * GETs an HTML page under the guard: public addresses only (unless allow-listed), every
 * redirect re-checked, at most `maxBytes`, all within `timeoutMs`.
 */
export async function guardedFetch(raw: string, opts: GuardOptions): Promise<GuardedResponse> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), opts.timeoutMs);
  try {
    let url = parseUrl(raw);
    for (let hop = 0; ; hop++) {
      const target = await checkedAddress(url, opts);
      if (controller.signal.aborted) throw new GuardError('timeout', 'Timed out.');
      const res = await requestOnce(url, target, controller.signal);
      const status = res.statusCode ?? 0;
      if (status >= 300 && status < 400 && res.headers.location) {
        res.resume();
        if (hop >= opts.maxRedirects) throw new GuardError('too_many_redirects', `More than ${opts.maxRedirects} redirects.`);
        url = parseUrl(new URL(res.headers.location, url).toString());
        continue;
      }
      if (status < 200 || status >= 300) {
        res.resume();
        throw new GuardError('http_status', `The page answered ${status}.`);
      }
      const contentType = String(res.headers['content-type'] ?? '');
      if (!/^(text\/html|application\/xhtml\+xml)/i.test(contentType)) {
        res.destroy();
        throw new GuardError('not_html', `Not a web page (${contentType || 'no type'}).`);
      }
      return { url: url.toString(), contentType, body: await readBounded(res, opts.maxBytes) };
    }
  } catch (err) {
    if (err instanceof GuardError) throw err;
    if (controller.signal.aborted) throw new GuardError('timeout', `No complete answer within ${opts.timeoutMs} ms.`);
    throw new GuardError('network', (err as Error).message);
  } finally {
    clearTimeout(timer);
  }
}
