import { list, type Config } from '../../config.js';
import type { CallProvider } from '../../../sdk/types.js';
import type { RtcProvider, RtcProviders } from './rtc.port.js';

/** Which adapter serves a kind: the configured name, or for `auto` the provider whose keys are set. */
export function providerName(config: Config, kind: 'audio' | 'video'): CallProvider {
  const raw = kind === 'audio' ? config.CALLS_AUDIO_PROVIDER : config.CALLS_VIDEO_PROVIDER;
  if (raw !== 'auto') return raw;
  if (kind === 'audio') return config.GETSTREAM_API_KEY && config.GETSTREAM_API_SECRET ? 'getstream' : 'p2p';
  return config.ALIYUN_RTC_APP_ID && config.ALIYUN_RTC_APP_KEY ? 'aliyun' : 'p2p';
}

/** Chooses the RTC adapters once at boot; an unknown provider name is a startup error. */
export async function openRtcProviders(config: Config): Promise<RtcProviders> {
  const made = new Map<CallProvider, RtcProvider>();
  const open = async (name: string): Promise<RtcProvider> => {
    const existing = made.get(name as CallProvider);
    if (existing) return existing;
    let p: RtcProvider;
    switch (name) {
      case 'p2p': {
        const { P2pRtcProvider } = await import('./rtc.p2p.js');
        p = new P2pRtcProvider({ stunUrls: list(config.CALLS_STUN_URLS), turnUrls: list(config.CALLS_TURN_URLS), turnSecret: config.CALLS_TURN_SECRET, turnTtlSeconds: config.CALLS_TURN_TTL });
        break;
      }
      case 'getstream': {
        const { GetStreamRtcProvider } = await import('./rtc.getstream.js');
        p = new GetStreamRtcProvider({ apiKey: config.GETSTREAM_API_KEY, apiSecret: config.GETSTREAM_API_SECRET, baseUrl: config.GETSTREAM_BASE_URL, callType: config.GETSTREAM_CALL_TYPE, tokenTtlSeconds: config.GETSTREAM_TOKEN_TTL });
        break;
      }
      case 'aliyun': {
        const { AliyunRtcProvider } = await import('./rtc.aliyun.js');
        p = new AliyunRtcProvider({ appId: config.ALIYUN_RTC_APP_ID, appKey: config.ALIYUN_RTC_APP_KEY, gslb: list(config.ALIYUN_RTC_GSLB), tokenTtlSeconds: config.ALIYUN_RTC_TOKEN_TTL });
        break;
      }
      default:
        throw new Error(`unknown RTC provider "${name}" (providers: p2p, getstream, aliyun)`);
    }
    made.set(p.name, p);
    return p;
  };
  const audio = await open(providerName(config, 'audio'));
  const video = await open(providerName(config, 'video'));
  // Calls created under another configuration may still end or get webhooks: p2p always exists.
  await open('p2p');
  return { audio, video, byName: (name) => made.get(name) };
}

export type { RtcProvider, RtcProviders, RtcCallInput } from './rtc.port.js';
export { verifyGetStreamSignature } from './rtc.getstream.js';
