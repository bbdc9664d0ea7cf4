import { notFound } from '../../errors.js';
import type { PublicUser, SelfUser, UpdateMeBody } from './users.schemas.js';
import type { UserRow, UsersRepository } from './users.repository.js';

/** Resolves an avatar media id to a URL; provided by the media module when it is loaded. */
export type AvatarUrlResolver = (mediaId: string) => string | undefined;
/** Checks that the caller may use a media id as an avatar (owns a completed image). */
export type AvatarValidator = (userId: string, mediaId: string) => Promise<void>;

/** What users need of the media module. */
export interface UserAvatars {
  avatarUrl: AvatarUrlResolver;
  validateAvatar: AvatarValidator;
}

/** Users: profiles, lookup and search. */
export class UsersService {
  constructor(
    private readonly repo: UsersRepository,
    private readonly avatars: UserAvatars,
  ) {}

  toPublic(row: UserRow): PublicUser {
    const u: PublicUser = { id: row.id, username: row.username, displayName: row.display_name, createdAt: row.created_at.toISOString() };
    if (row.avatar_media_id) {
      u.avatarMediaId = row.avatar_media_id;
      const url = this.avatars.avatarUrl(row.avatar_media_id);
      if (url) u.avatarUrl = url;
    }
    if (row.status_text) u.statusText = row.status_text;
    return u;
  }

  toSelf(row: UserRow): SelfUser {
    return { ...this.toPublic(row), email: row.email, emailVerified: row.email_verified_at != null };
  }

  async me(userId: string): Promise<SelfUser> {
    const row = await this.repo.findById(userId);
    if (!row) throw notFound('User not found.');
    return this.toSelf(row);
  }

  async get(id: string): Promise<PublicUser> {
    const row = await this.repo.findById(id);
    if (!row) throw notFound('User not found.');
    return this.toPublic(row);
  }

  async getMany(ids: readonly string[]): Promise<PublicUser[]> {
    return (await this.repo.findByIds(ids)).map((r) => this.toPublic(r));
  }

  async updateMe(userId: string, patch: UpdateMeBody): Promise<SelfUser> {
    if (patch.avatarMediaId) await this.avatars.validateAvatar(userId, patch.avatarMediaId);
    const next = { ...patch };
    if (next.displayName !== undefined) next.displayName = next.displayName.trim() || undefined;
    if (typeof next.statusText === 'string' && next.statusText.trim() === '') next.statusText = null;
    const row = await this.repo.update(userId, next);
    if (!row) throw notFound('User not found.');
    return this.toSelf(row);
  }

  async search(query: string, limit: number, viewerId: string): Promise<PublicUser[]> {
    return (await this.repo.search(query.trim(), limit, viewerId)).map((r) => this.toPublic(r));
  }
}
