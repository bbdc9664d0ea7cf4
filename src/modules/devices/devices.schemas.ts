import { Type, type Static } from 'typebox';

export const WebPushSubscription = Type.Object({
  endpoint: Type.String({ format: 'uri', pattern: '^https://', maxLength: 2048 }),
  expirationTime: Type.Optional(Type.Union([Type.Number(), Type.Null()])),
  keys: Type.Object({
    p256dh: Type.String({ minLength: 1, maxLength: 256, pattern: '^[A-Za-z0-9_=-]+$' }),
    auth: Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_=-]+$' }),
  }),
});

export const RegisterDeviceBody = Type.Object({
  platform: Type.Union([Type.Literal('fcm'), Type.Literal('apns'), Type.Literal('webpush')]),
  token: Type.Optional(Type.String({ minLength: 1, maxLength: 4096, pattern: '^[\\x21-\\x7e]+$' })),
  subscription: Type.Optional(WebPushSubscription),
});
export type RegisterDeviceBody = Static<typeof RegisterDeviceBody>;

export const Device = Type.Object(
  {
    id: Type.String(),
    platform: Type.String(),
    token: Type.Optional(Type.String()),
    subscription: Type.Optional(WebPushSubscription),
    createdAt: Type.String({ format: 'date-time' }),
  },
  { title: 'Device' },
);
export type Device = Static<typeof Device>;
