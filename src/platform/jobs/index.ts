import type { Config } from '../../config.js';
import type { Logger } from '../../logger.js';
import type { SqlExecutor } from '../sql/sql.port.js';
import { MESSAGE_JOB_KINDS, type IdempotencyStore, type JobKind, type JobOutcomeCounter, type JobQueue, type JobQueueSettings } from './jobs.port.js';

export interface JobQueueDeps {
  /** Where `JobContext.once` keeps its claims (the `processed_jobs` table). Unset: in-process only. */
  sql?: SqlExecutor;
  /** Counts handler outcomes (ok, retry, dead) in `parley_jobs_processed_total`. */
  metrics?: { jobsProcessed: JobOutcomeCounter };
}

/**
 * `JobContext.once` claims in `processed_jobs`, shared by every worker process. The claim
 * rows have ids `<job id>#<key>`, beside the rows consumers write under the bare job id.
 */
export class SqlIdempotencyStore implements IdempotencyStore {
  constructor(private readonly sql: SqlExecutor) {}

  async claim(key: string, kind: JobKind): Promise<boolean> {
    const r = await this.sql.query(
      'INSERT INTO processed_jobs (id, kind, payload, processed_at) VALUES ($1, $2, NULL, now()) ON CONFLICT (id) DO NOTHING RETURNING id',
      [key, kind],
    );
    return r.rows.length === 1;
  }

  async release(key: string): Promise<void> {
    await this.sql.query('DELETE FROM processed_jobs WHERE id = $1', [key]);
  }
}

export function jobQueueSettings(config: Config): JobQueueSettings {
  return {
    prefetch: config.JOB_PREFETCH,
    prefetchOf: Object.fromEntries(MESSAGE_JOB_KINDS.map((k) => [k, config.JOB_PREFETCH_MESSAGE])),
    maxAttempts: config.JOB_MAX_ATTEMPTS,
    retryDelaySeconds: config.JOB_RETRY_DELAY,
    shutdownGraceSeconds: config.SHUTDOWN_GRACE,
  };
}

/** Chooses the job queue once at boot: RabbitMQ when AMQP_URL is set, else in-process; only the chosen driver loads. */
export async function openJobQueue(config: Config, logger: Logger, deps: JobQueueDeps = {}): Promise<JobQueue> {
  const settings = jobQueueSettings(config);
  const metrics = deps.metrics ? { metrics: deps.metrics.jobsProcessed } : {};
  const memoryStore = async (): Promise<IdempotencyStore> => new (await import('./jobs.memory.js')).MemoryIdempotencyStore();
  const idempotency = deps.sql ? new SqlIdempotencyStore(deps.sql) : await memoryStore();
  if (config.AMQP_URL) {
    if (!deps.sql) logger.warn('jobs: no SQL store given, so JobContext.once only deduplicates within this process');
    const { RabbitJobQueue } = await import('./jobs.rabbitmq.js');
    return RabbitJobQueue.open({
      ...settings,
      url: config.AMQP_URL,
      prefix: config.AMQP_QUEUE_PREFIX,
      queueType: config.AMQP_QUEUE_TYPE,
      deliveryLimit: config.JOB_DELIVERY_LIMIT,
      batchMax: config.JOB_BATCH,
      logger,
      idempotency,
      ...metrics,
    });
  }
  const { MemoryJobQueue } = await import('./jobs.memory.js');
  return new MemoryJobQueue({ ...settings, logger, idempotency, ...metrics });
}

export type { DeadJob, IdempotencyStore, Job, JobContext, JobHandler, JobKind, JobQueue, JobQueueSettings } from './jobs.port.js';
export { JOB_KINDS } from './jobs.port.js';
