import type { JobHandler, JobQueue } from '../platform/jobs/jobs.port.js';
import type { MediaService, ThumbnailJob } from '../modules/media/media.service.js';

/**
 * `media.thumbnail`: renders the thumbnail of a completed image (the media service does
 * the work; this consumer only reads the job). Idempotent: the service skips media that
 * already has one.
 */
export function mediaThumbnailWorker(media: Pick<MediaService, 'makeThumbnail'>): JobHandler {
  return async (job) => {
    const id = (job.payload as Partial<ThumbnailJob> | null)?.mediaId;
    // A malformed payload can never succeed: drop it rather than retry it to the DLQ.
    if (typeof id !== 'string') return;
    await media.makeThumbnail(id);
  };
}

/** Registers the media job consumers (worker role). */
export async function registerMediaJobHandlers(jobs: JobQueue, media: Pick<MediaService, 'makeThumbnail'>): Promise<void> {
  await jobs.consume<ThumbnailJob>('media.thumbnail', mediaThumbnailWorker(media));
}
