import type { Config } from '../../config.js';
import type { Logger } from '../../logger.js';
import type { PresenceStore } from './presence.port.js';

/** Chooses the presence adapter once at boot; only the chosen driver is loaded. */
export async function openPresenceStore(config: Config, logger: Logger): Promise<PresenceStore> {
  if (config.REDIS_URL) {
    const { RedisPresenceStore } = await import('./presence.redis.js');
    return RedisPresenceStore.open(config, logger);
  }
  const { MemoryPresenceStore } = await import('./presence.memory.js');
  return new MemoryPresenceStore();
}

export type { PresenceStore, PresenceState } from './presence.port.js';
