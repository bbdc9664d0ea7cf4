import type { Config } from '../../config.js';
import type { Logger } from '../../logger.js';
import type { KeyValueStore } from './kv.port.js';

/** Chooses the key-value adapter once at boot. */
export async function openKeyValueStore(config: Config, _logger: Logger): Promise<KeyValueStore> {
  if (config.REDIS_URL) {
    throw new Error('REDIS_URL: the Redis key-value adapter is not available in this build');
  }
  const { MemoryKeyValueStore } = await import('./kv.memory.js');
  return new MemoryKeyValueStore();
}

export type { KeyValueStore } from './kv.port.js';
