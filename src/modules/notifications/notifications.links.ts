import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Signed links that act without a login (one-click unsubscribe): an HMAC of the purpose
 * and the user id under a key derived from the server secret, so a link cannot be forged
 * for another user and works until the secret changes.
 */
export class SignedLinks {
  private readonly key: Buffer;

  constructor(serverSecret: string) {
    this.key = createHmac('sha256', serverSecret).update('parley signed links v1').digest();
  }

  sign(purpose: string, userId: string): string {
    return createHmac('sha256', this.key).update(`${purpose}\n${userId}`).digest('base64url');
  }

  verify(purpose: string, userId: string, sig: string): boolean {
    const want = Buffer.from(this.sign(purpose, userId));
    const got = Buffer.from(sig);
    return want.length === got.length && timingSafeEqual(want, got);
  }
}
