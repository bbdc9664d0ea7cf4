import { Type } from 'typebox';
import { Id } from '../users/users.schemas.js';

const Kind = Type.Union([Type.Literal('audio'), Type.Literal('video')]);

export const ParticipantSchema = Type.Object(
  {
    userId: Type.String(),
    state: Type.Union([Type.Literal('invited'), Type.Literal('joined'), Type.Literal('left'), Type.Literal('declined')], {
      description: 'invited: it rings for them; joined: in the call now; left; declined.',
    }),
    joinedAt: Type.Optional(Type.String({ format: 'date-time', description: 'When they last joined.' })),
    leftAt: Type.Optional(Type.String({ format: 'date-time' })),
    seconds: Type.Integer({ description: 'Seconds spent in the call, summed over re-joins (the current stretch is added when they leave).' }),
  },
  { title: 'CallParticipant' },
);

export const CallSchema = Type.Object(
  {
    id: Type.String(),
    conversationId: Type.String(),
    kind: Kind,
    provider: Type.Union([Type.Literal('getstream'), Type.Literal('aliyun'), Type.Literal('p2p')], { description: 'Who carries the media (configuration: CALLS_AUDIO_PROVIDER, CALLS_VIDEO_PROVIDER).' }),
    status: Type.Union([Type.Literal('ringing'), Type.Literal('active'), Type.Literal('ended')], { description: 'ringing until someone other than the caller joins; ended is final.' }),
    endReason: Type.Optional(Type.Union([Type.Literal('completed'), Type.Literal('missed'), Type.Literal('declined')])),
    createdBy: Type.String(),
    participants: Type.Array(ParticipantSchema),
    createdAt: Type.String({ format: 'date-time' }),
    startedAt: Type.Optional(Type.String({ format: 'date-time', description: 'When the second person joined.' })),
    endedAt: Type.Optional(Type.String({ format: 'date-time' })),
    durationSeconds: Type.Optional(Type.Integer({ description: 'From startedAt to endedAt (0 for a call nobody answered).' })),
  },
  { title: 'Call' },
);

const IceServer = Type.Object({ urls: Type.Array(Type.String()), username: Type.Optional(Type.String()), credential: Type.Optional(Type.String()) });

export const CredentialsSchema = Type.Union(
  [
    Type.Object(
      {
        provider: Type.Literal('getstream'),
        apiKey: Type.String(),
        token: Type.String({ description: 'GetStream user JWT: user_id, iat, exp, call_cids.' }),
        callType: Type.String(),
        callId: Type.String(),
        userId: Type.String(),
        baseUrl: Type.String(),
      },
      { title: 'GetStreamCredentials' },
    ),
    Type.Object(
      {
        provider: Type.Literal('aliyun'),
        appId: Type.String(),
        channelId: Type.String(),
        userId: Type.String(),
        nonce: Type.String(),
        timestamp: Type.Integer({ description: 'Unix seconds: when the token expires.' }),
        token: Type.String({ description: 'hex(sha256(appId + appKey + channelId + userId + nonce + timestamp)).' }),
        gslb: Type.Array(Type.String()),
      },
      { title: 'AliyunCredentials' },
    ),
    Type.Object(
      {
        provider: Type.Literal('p2p'),
        iceServers: Type.Array(IceServer, { description: 'STUN, and TURN with time-limited credentials (coturn use-auth-secret).' }),
      },
      { title: 'P2pCredentials' },
    ),
  ],
  { title: 'CallCredentials' },
);

export const CallWithCredentialsSchema = Type.Object({ call: CallSchema, credentials: CredentialsSchema }, { title: 'CallWithCredentials' });

export const StartCallBody = Type.Object({ conversationId: Id, kind: Kind }, { additionalProperties: false });
export const CallParams = Type.Object({ id: Id });
export const HistoryQuery = Type.Object({
  conversationId: Id,
  cursor: Type.Optional(Type.String({ maxLength: 200 })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 30 })),
});
export const HistorySchema = Type.Object({ calls: Type.Array(CallSchema), nextCursor: Type.Union([Type.String(), Type.Null()]) }, { title: 'CallHistory' });
