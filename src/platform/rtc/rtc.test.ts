import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { decodeJwt, jwtVerify } from 'jose';
import { ConfigError, loadConfig } from '../../config.js';
import { artcToken, AliyunRtcProvider } from './rtc.aliyun.js';
import { turnCredentials, P2pRtcProvider } from './rtc.p2p.js';
import { GetStreamRtcProvider, verifyGetStreamSignature } from './rtc.getstream.js';
import { openRtcProviders, providerName } from './index.js';

test('ARTC token: the documented example vector', () => {
  const token = artcToken({ appId: 'abc', appKey: 'abckey', channelId: 'abcChannel', userId: 'abcUser', nonce: '', timestamp: 1699423634 });
  assert.equal(token, '3c9ee8d9f8734f0b7560ed8022a0590659113955819724fc9345ab8eedf84f31');
});

test('ARTC credentials: timestamp is the expiry, nonce empty, ids checked', async () => {
  const p = new AliyunRtcProvider({ appId: 'abc', appKey: 'abckey', gslb: ['https://rgslb.rtc.aliyuncs.com'], tokenTtlSeconds: 3600 });
  const now = 1_700_000_000_000;
  const c = await p.credentials({ providerCallId: 'abcChannel', userId: 'abcUser' }, now);
  assert.equal(c.provider, 'aliyun');
  if (c.provider !== 'aliyun') return;
  assert.equal(c.timestamp, 1_700_000_000 + 3600);
  assert.equal(c.nonce, '');
  assert.equal(c.token, artcToken({ appId: 'abc', appKey: 'abckey', channelId: 'abcChannel', userId: 'abcUser', nonce: '', timestamp: c.timestamp }));
  assert.deepEqual(c.gslb, ['https://rgslb.rtc.aliyuncs.com']);
  await assert.rejects(p.credentials({ providerCallId: 'bad channel!', userId: 'u' }));
  await assert.rejects(p.credentials({ providerCallId: 'ok', userId: 'x'.repeat(65) }));
});

test('TURN credentials in coturn use-auth-secret form', async () => {
  const t = turnCredentials('s3cret', 'user1', 600, 1_000_000_000_000);
  assert.equal(t.username, `${1_000_000_000 + 600}:user1`);
  assert.equal(t.credential, createHmac('sha1', 's3cret').update(t.username).digest('base64'));
  const p2p = new P2pRtcProvider({ stunUrls: ['stun:a'], turnUrls: ['turn:b'], turnSecret: 's3cret', turnTtlSeconds: 60 });
  const c = await p2p.credentials({ userId: 'u' });
  assert.equal(c.provider, 'p2p');
  if (c.provider === 'p2p') assert.equal(c.iceServers.length, 2);
  const none = await new P2pRtcProvider({ stunUrls: [], turnUrls: [], turnSecret: '', turnTtlSeconds: 60 }).credentials({ userId: 'u' });
  assert.deepEqual(none, { provider: 'p2p', iceServers: [] });
});

test('GetStream user token: user_id, call_cids, iat a second back, exp = iat + ttl, HS256 with the secret', async () => {
  const gs = new GetStreamRtcProvider({ apiKey: 'k', apiSecret: 'secret-secret', baseUrl: 'http://127.0.0.1:1', callType: 'default', tokenTtlSeconds: 900 });
  const now = 1_750_000_000_000;
  const token = await gs.userToken('u1', 'default:c1', now);
  const claims = decodeJwt(token);
  assert.deepEqual(claims, { user_id: 'u1', call_cids: ['default:c1'], iat: 1_750_000_000 - 1, exp: 1_750_000_000 - 1 + 900 });
  await assert.rejects(jwtVerify(token, new TextEncoder().encode('other'), { currentDate: new Date(now) }));
  await jwtVerify(token, new TextEncoder().encode('secret-secret'), { algorithms: ['HS256'], currentDate: new Date(now) });
});

test('GetStream webhook signature: hex HMAC-SHA256 of the raw body, constant-time compare', () => {
  const body = Buffer.from('{"type":"call.ended"}');
  const sig = createHmac('sha256', 'sec').update(body).digest('hex');
  assert.equal(verifyGetStreamSignature('sec', body, sig), true);
  assert.equal(verifyGetStreamSignature('sec', body, sig.toUpperCase()), true);
  assert.equal(verifyGetStreamSignature('sec', Buffer.from('{"type":"call.ended" }'), sig), false);
  assert.equal(verifyGetStreamSignature('other', body, sig), false);
  assert.equal(verifyGetStreamSignature('sec', body, undefined), false);
  assert.equal(verifyGetStreamSignature('sec', body, 'abc'), false);
});

test('provider choice: p2p with no keys, providers by keys under auto, unknown names refused at startup', async () => {
  const bare = loadConfig({}, { dotenvPath: null });
  assert.equal(providerName(bare, 'audio'), 'p2p');
  assert.equal(providerName(bare, 'video'), 'p2p');
  const rtc = await openRtcProviders(bare);
  assert.equal(rtc.audio.name, 'p2p');
  assert.equal(rtc.video, rtc.audio);
  const keyed = loadConfig({ GETSTREAM_API_KEY: 'k', GETSTREAM_API_SECRET: 's', ALIYUN_RTC_APP_ID: 'app', ALIYUN_RTC_APP_KEY: 'key' }, { dotenvPath: null });
  const both = await openRtcProviders(keyed);
  assert.equal(both.audio.name, 'getstream');
  assert.equal(both.video.name, 'aliyun');
  assert.equal(both.byName('p2p')?.name, 'p2p');
  assert.throws(() => loadConfig({ CALLS_AUDIO_PROVIDER: 'twilio' }, { dotenvPath: null }), (e: unknown) => e instanceof ConfigError && /CALLS_AUDIO_PROVIDER/.test(e.message));
  assert.throws(() => loadConfig({ CALLS_VIDEO_PROVIDER: 'aliyun' }, { dotenvPath: null }), /aliyun needs ALIYUN_RTC_APP_ID/);
  assert.throws(() => loadConfig({ CALLS_TURN_URLS: 'turn:x' }, { dotenvPath: null }), /CALLS_TURN_SECRET/);
  // The switch itself refuses a name it does not know (a config that slipped past validation).
  await assert.rejects(openRtcProviders({ ...bare, CALLS_AUDIO_PROVIDER: 'twilio' as never }), /unknown RTC provider "twilio"/);
});
