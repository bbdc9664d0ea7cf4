import { AppError, invalid, notFound } from '../../errors.js';
import type { User } from '../../../sdk/types.js';
import type { UsersService } from '../users/users.service.js';
import type { BlocksRepository } from './blocks.repository.js';

/**
 * Blocking: a user you block cannot open or write to a direct conversation with you, is
 * not offered to you in people search, and your client collapses their group messages.
 * Nothing tells them who blocked them beyond a refused send.
 */
export class BlocksService {
  constructor(
    private readonly repo: BlocksRepository,
    private readonly users: UsersService,
  ) {}

  async block(userId: string, targetId: string): Promise<void> {
    if (targetId === userId) throw invalid('You cannot block yourself.');
    await this.users.get(targetId); // not_found for an unknown user
    await this.repo.add(userId, targetId);
  }

  async unblock(userId: string, targetId: string): Promise<void> {
    if (!(await this.repo.remove(userId, targetId))) throw notFound('That user is not blocked.');
  }

  async list(userId: string): Promise<{ blocks: { user: User; createdAt: string }[] }> {
    const rows = await this.repo.list(userId);
    const users = new Map((await this.users.getMany(rows.map((r) => r.blocked_id))).map((u) => [u.id, u]));
    return { blocks: rows.flatMap((r) => (users.has(r.blocked_id) ? [{ user: users.get(r.blocked_id)!, createdAt: r.created_at.toISOString() }] : [])) };
  }

  /** Refuses `senderId` writing to a direct conversation whose other member blocked them. */
  async assertMaySend(conversationId: string, senderId: string): Promise<void> {
    if (await this.repo.blockedInDirect(conversationId, senderId)) throw new AppError('blocked', 'You cannot message this user.');
  }

  /** Refuses `senderId` opening a direct conversation with `peerId` who blocked them. */
  async assertNotBlockedBy(peerId: string, senderId: string): Promise<void> {
    if (await this.repo.has(peerId, senderId)) throw new AppError('blocked', 'You cannot message this user.');
  }
}
