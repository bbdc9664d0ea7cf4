import { Type } from 'typebox';

export const ReportSchema = Type.Object(
  {
    id: Type.String(),
    conversationId: Type.String(),
    messageId: Type.String(),
    reporterId: Type.String(),
    reportedUserId: Type.String(),
    reason: Type.String(),
    messageText: Type.Union([Type.String(), Type.Null()]),
    status: Type.Union([Type.Literal('open'), Type.Literal('resolved')]),
    createdAt: Type.String({ format: 'date-time' }),
    resolvedAt: Type.Optional(Type.String({ format: 'date-time' })),
    resolvedBy: Type.Optional(Type.String()),
  },
  { title: 'Report' },
);

export const ReportBody = Type.Object({ reason: Type.String({ minLength: 1, maxLength: 1000, pattern: '^[^\\u0000]*$' }) });

export const ReportsQuery = Type.Object({
  status: Type.Optional(Type.Union([Type.Literal('open'), Type.Literal('resolved')], { default: 'open' })),
  cursor: Type.Optional(Type.String({ maxLength: 200 })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 50 })),
});
