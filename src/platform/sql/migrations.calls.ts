import type { Migration } from './migration.js';

/** Migrations for calls: versions 120–129 (120 in use). */
export const CALLS_MIGRATIONS: readonly Migration[] = [
  {
    version: 120,
    name: 'calls',
    sql: `
-- One row per call. status: ringing (only the caller is in) -> active (someone else
-- joined) -> ended. end_reason says how it ended: completed, missed (nobody answered
-- in time, or the caller gave up) or declined (everyone asked said no).
CREATE TABLE calls (
  id text PRIMARY KEY,
  conversation_id text NOT NULL,
  kind text NOT NULL CHECK (kind IN ('audio', 'video')),
  provider text NOT NULL CHECK (provider IN ('getstream', 'aliyun', 'p2p')),
  provider_call_id text NOT NULL,
  status text NOT NULL CHECK (status IN ('ringing', 'active', 'ended')),
  end_reason text CHECK (end_reason IN ('completed', 'missed', 'declined')),
  created_by text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  started_at timestamptz,
  ended_at timestamptz,
  duration_seconds integer,
  -- The provider's statistics report (GetStream call.stats_report_ready), as sent.
  stats jsonb
);
-- At most one call per conversation that has not ended.
CREATE UNIQUE INDEX calls_one_open ON calls (conversation_id) WHERE status <> 'ended';
CREATE INDEX calls_conversation ON calls (conversation_id, created_at DESC, id DESC);
CREATE INDEX calls_provider_id ON calls (provider, provider_call_id);
CREATE INDEX calls_ringing ON calls (created_at) WHERE status = 'ringing';

-- Who was asked, who joined, when, and for how long (seconds summed over re-joins).
CREATE TABLE call_participants (
  call_id text NOT NULL REFERENCES calls(id) ON DELETE CASCADE,
  user_id text NOT NULL,
  state text NOT NULL CHECK (state IN ('invited', 'joined', 'left', 'declined')),
  invited_at timestamptz NOT NULL DEFAULT now(),
  joined_at timestamptz,
  left_at timestamptz,
  seconds integer NOT NULL DEFAULT 0,
  PRIMARY KEY (call_id, user_id)
);

-- Provider webhook deliveries already applied (GetStream X-Webhook-Id, Aliyun MsgId).
CREATE TABLE call_webhook_events (
  provider text NOT NULL,
  event_id text NOT NULL,
  event_type text NOT NULL,
  call_id text,
  received_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (provider, event_id)
);

-- Per conversation and UTC day (of the call's start): recomputed from calls and
-- call_participants by the calls.analytics worker, so redelivered jobs change nothing.
CREATE TABLE call_stats_daily (
  conversation_id text NOT NULL,
  day date NOT NULL,
  calls integer NOT NULL,
  missed integer NOT NULL,
  seconds bigint NOT NULL,
  participants integer NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (conversation_id, day)
);
`,
  },
];
