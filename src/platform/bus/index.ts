import type { Config } from '../../config.js';
import type { Logger } from '../../logger.js';
import type { Bus } from './bus.port.js';

/** Chooses the bus adapter once at boot; only the chosen driver is loaded. */
export async function openBus(config: Config, logger: Logger): Promise<Bus> {
  if (config.REDIS_URL) {
    const { RedisBus } = await import('./bus.redis.js');
    return RedisBus.open(config, logger);
  }
  const { MemoryBus } = await import('./bus.memory.js');
  return new MemoryBus(logger);
}

export type { Bus, BusHandler } from './bus.port.js';
export { convTopic, userTopic } from './bus.port.js';
