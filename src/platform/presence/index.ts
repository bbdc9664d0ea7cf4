import type { Config } from '../../config.js';
import type { Logger } from '../../logger.js';
import type { PresenceStore } from './presence.port.js';

/** Chooses the presence adapter once at boot. */
export async function openPresenceStore(config: Config, _logger: Logger): Promise<PresenceStore> {
  if (config.REDIS_URL) throw new Error('REDIS_URL: the Redis presence adapter is not available in this build');
  const { MemoryPresenceStore } = await import('./presence.memory.js');
  return new MemoryPresenceStore();
}

export type { PresenceStore, PresenceState } from './presence.port.js';
