import { Type, type Static } from 'typebox';
import { Id, SINGLE_LINE_TEXT } from '../common.schemas.js';

/** A media id has the shape of every id. */
export const MediaId = Id;

export const Media = Type.Object(
  {
    id: Type.String(),
    ownerId: Type.String(),
    filename: Type.String(),
    contentType: Type.String(),
    size: Type.Integer(),
    kind: Type.Union([Type.Literal('image'), Type.Literal('video'), Type.Literal('audio'), Type.Literal('file')], {
      description: 'Class of the content type: its size limit, and whether it plays inline or downloads.',
    }),
    status: Type.Union([Type.Literal('pending'), Type.Literal('ready')], {
      description: '`pending` until `POST /v1/media/:id/complete` has checked the uploaded object.',
    }),
    width: Type.Optional(Type.Integer({ description: 'Images: width in pixels as displayed.' })),
    height: Type.Optional(Type.Integer({ description: 'Images: height in pixels as displayed.' })),
    url: Type.Optional(Type.String({ description: 'Short-lived signed download URL (ready media only).' })),
    thumbnailUrl: Type.Optional(Type.String({ description: 'Short-lived signed URL of a WebP thumbnail (≤ 320 px), once made.' })),
    urlExpiresAt: Type.Optional(Type.String({ format: 'date-time', description: 'When `url` and `thumbnailUrl` stop working.' })),
    createdAt: Type.String({ format: 'date-time' }),
  },
  { title: 'Media' },
);
export type Media = Static<typeof Media>;

export const CreateUploadBody = Type.Object({
  filename: Type.String({ minLength: 1, maxLength: 255, pattern: SINGLE_LINE_TEXT }),
  contentType: Type.String({ minLength: 3, maxLength: 255, pattern: SINGLE_LINE_TEXT, description: 'Declared type; must be on the allow-list (see the 400 message).' }),
  size: Type.Integer({ minimum: 1, maximum: 2 ** 50, description: 'Exact size in bytes; the upload must be exactly this long.' }),
});
export type CreateUploadBody = Static<typeof CreateUploadBody>;

export const UploadTicket = Type.Object(
  {
    mediaId: Type.String(),
    uploadUrl: Type.String({ description: 'PUT the bytes here, with exactly `uploadHeaders` and `size` bytes of body.' }),
    uploadMethod: Type.Literal('PUT'),
    uploadHeaders: Type.Record(Type.String(), Type.String()),
    expiresAt: Type.String({ format: 'date-time', description: 'When `uploadUrl` stops working.' }),
  },
  { title: 'UploadTicket' },
);
export type UploadTicket = Static<typeof UploadTicket>;

export const AvatarQuery = Type.Object({
  size: Type.Optional(Type.Union([Type.Literal('thumb'), Type.Literal('full')], { default: 'thumb' })),
});
