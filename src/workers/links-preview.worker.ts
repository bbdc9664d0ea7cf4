import type { JobHandler } from '../platform/jobs/jobs.port.js';
import type { LinkPreviewJob, LinksService } from '../modules/links/links.service.js';

/**
 * `links.preview`: fetches the Open Graph data of a new message's links (under the SSRF
 * guard), attaches the previews and announces them. Idempotent: the cache and the
 * attachment are upserts, so a redelivery at most repeats the event.
 */
export function linksPreviewWorker(links: LinksService): JobHandler<LinkPreviewJob> {
  return async (job) => {
    await links.handleJob(job.payload);
  };
}
