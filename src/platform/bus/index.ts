import type { Config } from '../../config.js';
import type { Logger } from '../../logger.js';
import type { Bus } from './bus.port.js';

/** Chooses the bus adapter once at boot. */
export async function openBus(config: Config, _logger: Logger): Promise<Bus> {
  if (config.REDIS_URL) throw new Error('REDIS_URL: the Redis bus adapter is not available in this build');
  const { MemoryBus } = await import('./bus.memory.js');
  return new MemoryBus();
}

export type { Bus, BusHandler } from './bus.port.js';
export { convTopic, userTopic } from './bus.port.js';
