import { forbidden, invalid, notFound } from '../../errors.js';
import { newId } from '../../ids.js';
import type { MessageStore } from '../../platform/message-store/index.js';
import type { AuthService } from '../auth/auth.service.js';
import type { ConversationsService } from '../conversations/conversations.service.js';
import type { MessagesService } from '../messages/messages.service.js';
import type { UsersRepository } from '../users/users.repository.js';
import type { ReportRow, ReportsRepository } from './reports.repository.js';
import type { Report } from '../../../sdk/types.js';
import { decodeKeysetCursor, keysetPage } from '../keyset-cursor.js';

function toReport(r: ReportRow): Report {
  const out: Report = {
    id: r.id,
    conversationId: r.conversation_id,
    messageId: r.message_id,
    reporterId: r.reporter_id,
    reportedUserId: r.reported_user_id,
    reason: r.reason,
    messageText: r.message_text,
    status: r.status,
    createdAt: r.created_at.toISOString(),
  };
  if (r.resolved_at) out.resolvedAt = r.resolved_at.toISOString();
  if (r.resolved_by) out.resolvedBy = r.resolved_by;
  return out;
}

/**
 * Reports by members, and what a deployment administrator (the server-wide `admin` flag,
 * granted with `parley admin grant <username>`) does about them: list reports, delete a
 * message anywhere, deactivate an account.
 */
export class ModerationService {
  constructor(
    private readonly reports: ReportsRepository,
    private readonly users: UsersRepository,
    private readonly conversations: ConversationsService,
    private readonly store: MessageStore,
    private readonly messages: MessagesService,
    private readonly auth: AuthService,
  ) {}

  async report(userId: string, conversationId: string, messageId: string, reason: string): Promise<{ report: Report; created: boolean }> {
    await this.conversations.requireMember(userId, conversationId);
    const text = reason.trim();
    if (text === '') throw invalid('A report needs a reason.');
    const m = await this.store.findById(conversationId, messageId);
    if (!m || m.deletedAt || m.kind !== 'user') throw notFound('Message not found.');
    if (m.senderId === userId) throw invalid('You cannot report your own message.');
    const { row, created } = await this.reports.insert({ id: newId(), conversationId, messageId, reporterId: userId, reportedUserId: m.senderId, reason: text, messageText: m.text });
    return { report: toReport(row), created };
  }

  /** `forbidden` unless the caller is a deployment administrator. */
  private async requireAdmin(userId: string): Promise<void> {
    const u = await this.users.findById(userId);
    if (!u?.is_admin || u.deactivated_at) throw forbidden('Deployment administrators only.');
  }

  async listReports(adminId: string, opts: { status: 'open' | 'resolved'; cursor?: string; limit: number }): Promise<{ reports: Report[]; nextCursor: string | null }> {
    await this.requireAdmin(adminId);
    const rows = await this.reports.list(opts.status, opts.limit + 1, opts.cursor ? decodeKeysetCursor(opts.cursor) : undefined);
    const { page, nextCursor } = keysetPage(rows, opts.limit, (r) => [r.created_at, r.id]);
    return { reports: page.map(toReport), nextCursor };
  }

  async resolveReport(adminId: string, reportId: string): Promise<Report> {
    await this.requireAdmin(adminId);
    await this.reports.resolve(adminId, { id: reportId });
    const r = await this.reports.find(reportId);
    if (!r) throw notFound('Report not found.');
    return toReport(r);
  }

  /** Deletes (tombstones) any message; its open reports are resolved. */
  async deleteMessage(adminId: string, conversationId: string, messageId: string): Promise<void> {
    await this.requireAdmin(adminId);
    await this.messages.removeAsAdmin(adminId, conversationId, messageId);
    await this.reports.resolve(adminId, { messageId });
  }

  async deactivate(adminId: string, userId: string): Promise<{ id: string; deactivatedAt: string; sessionsRevoked: number }> {
    await this.requireAdmin(adminId);
    if (userId === adminId) throw invalid('You cannot deactivate your own account.');
    const r = await this.auth.deactivate(userId);
    if (!r) throw notFound('User not found.');
    return { id: userId, deactivatedAt: r.deactivatedAt.toISOString(), sessionsRevoked: r.sessionsRevoked };
  }
}
