import type { Config } from '../../config.js';
import type { Logger } from '../../logger.js';
import type { KeyValueStore } from './kv.port.js';

/** Chooses the key-value adapter once at boot; only the chosen driver is loaded. */
export async function openKeyValueStore(config: Config, logger: Logger): Promise<KeyValueStore> {
  if (config.REDIS_URL) {
    const { RedisKeyValueStore } = await import('./kv.redis.js');
    return RedisKeyValueStore.open(config, logger);
  }
  const { MemoryKeyValueStore } = await import('./kv.memory.js');
  return new MemoryKeyValueStore();
}

export type { KeyValueStore } from './kv.port.js';
