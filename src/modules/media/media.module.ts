/**
 * Assembles the media module for the composition root: the blob adapter (chosen from
 * configuration), the service, its routes, and the periodic cleanup of abandoned uploads.
 */
import type { AddressInfo } from 'node:net';
import type { Config } from '../../config.js';
import type { RequireAuth, HttpApp } from '../../gateway/http.js';
import type { Logger } from '../../logger.js';
import { openBlobStore, type BlobStore } from '../../platform/blob/index.js';
import type { JobQueue } from '../../platform/jobs/jobs.port.js';
import type { SqlExecutor } from '../../platform/sql/index.js';
import { MediaRepository } from './media.repository.js';
import { registerMediaRoutes } from './media.routes.js';
import { registerBlobRoutes } from './blob.routes.js';
import { MediaService, type IsMember } from './media.service.js';

export { MediaService, type IsMember } from './media.service.js';
export type { Media } from './media.schemas.js';

export interface MediaModuleDeps {
  config: Config;
  logger: Logger;
  sql: SqlExecutor;
  jobs: JobQueue;
  isMember: IsMember;
  /** An already-open blob store (tests); default: the one configuration selects. */
  blobs?: BlobStore;
}

export interface MediaModule {
  readonly service: MediaService;
  readonly blobs: BlobStore;
  /** The `/v1/media` routes, and the local adapter's `/v1/blobs` routes when it is used. */
  registerRoutes(app: HttpApp, deps: { requireAuth: RequireAuth }): void;
  /** Starts the periodic deletion of never-completed uploads (idempotent). */
  startCleanup(): void;
  /** For `/readyz`: the object store answers. */
  ping(): Promise<void>;
  /** Stops the cleanup (waiting for a run in progress) and closes the blob store. */
  stop(): Promise<void>;
}

/** How often the cleanup looks for expired uploads: often enough for short TTLs, at most once a minute. */
function cleanupIntervalMs(pendingTtlSeconds: number): number {
  return Math.min(60_000, Math.max(500, (pendingTtlSeconds * 1000) / 2));
}

/** Builds the media module (opens the blob adapter that configuration selects). */
export async function createMediaModule(deps: MediaModuleDeps): Promise<MediaModule> {
  const { config, logger } = deps;
  // PUBLIC_URL, else this server's own address; with PORT=0 the real port is known only
  // once it listens (onListen below).
  let port = config.PORT;
  const host = config.HOST === '0.0.0.0' || config.HOST === '::' || config.HOST === '' ? 'localhost' : config.HOST;
  const publicBaseUrl = () => config.PUBLIC_URL || `http://${host.includes(':') ? `[${host}]` : host}:${port}`;

  const blobs = deps.blobs ?? (await openBlobStore(config, logger, { publicBaseUrl }));
  const service = new MediaService({
    repo: new MediaRepository(deps.sql),
    blobs,
    jobs: deps.jobs,
    config,
    logger,
    isMember: deps.isMember,
    publicBaseUrl,
  });

  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  const runCleanup = () => {
    if (running) return;
    running = service
      .cleanupExpired()
      .then(() => undefined)
      .catch((err: unknown) => logger.warn({ err }, 'media cleanup failed; retrying next round'))
      .finally(() => {
        running = undefined;
      });
  };

  return {
    service,
    blobs,
    registerRoutes(app, { requireAuth }) {
      app.addHook('onListen', async () => {
        const addr = app.server.address();
        if (addr && typeof addr === 'object') port = (addr as AddressInfo).port;
      });
      registerMediaRoutes(app, { media: service, requireAuth });
      if (blobs.signedUrls) registerBlobRoutes(app, blobs.signedUrls);
    },
    startCleanup() {
      if (timer) return;
      timer = setInterval(runCleanup, cleanupIntervalMs(config.MEDIA_PENDING_TTL));
      // The cleanup never keeps the process alive on its own.
      timer.unref();
    },
    ping: () => blobs.ping(),
    async stop() {
      if (timer) clearInterval(timer);
      timer = undefined;
      await running;
      if (!deps.blobs) await blobs.close();
    },
  };
}
