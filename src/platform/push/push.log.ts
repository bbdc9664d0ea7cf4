import type { Logger } from '../../logger.js';
import type { PushMessage, PushPlatform, PushResult, PushSender, PushTarget } from './push.port.js';

/**
 * The embedded default for a platform with no provider account: the push is written to
 * the log (one line per device), so an operator sees what would have been sent.
 */
export class LogPushSender implements PushSender {
  readonly adapter = 'log';

  constructor(
    readonly platform: PushPlatform,
    private readonly logger: Logger,
  ) {}

  async send(target: PushTarget, message: PushMessage): Promise<PushResult> {
    this.logger.info({ platform: this.platform, deviceId: target.deviceId, push: message }, 'push (log adapter: provider not configured)');
    return { outcome: 'sent' };
  }

  async close(): Promise<void> {}
}
