import { useEffect, useRef, useState, useSyncExternalStore } from 'react';
import type { Call } from '../../../sdk/index.js';
import { useModel } from '../lib/hooks.js';
import { callsOf, type CurrentCall } from '../lib/calls.js';

const PROVIDER_NAMES = { getstream: 'GetStream', aliyun: 'Aliyun RTC', p2p: 'a direct connection' } as const;

function clock(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600);
  const mm = String(Math.floor((s % 3600) / 60)).padStart(h ? 2 : 1, '0');
  const ss = String(s % 60).padStart(2, '0');
  return h ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
}

/** Plays a MediaStream (remote: with sound; local preview: muted). */
function StreamView(props: { stream: MediaStream; muted?: boolean; label: string; video: boolean }) {
  const ref = useRef<HTMLVideoElement>(null);
  useEffect(() => {
    if (ref.current && ref.current.srcObject !== props.stream) ref.current.srcObject = props.stream;
  }, [props.stream]);
  return (
    <figure className={`call-stream${props.video ? '' : ' audio-only'}`}>
      <video ref={ref} autoPlay playsInline muted={props.muted} aria-label={props.label} />
      <figcaption>{props.label}</figcaption>
    </figure>
  );
}

/** The incoming-call screens (every ringing call) and the in-call view, over the app. */
export function CallOverlay() {
  const model = useModel();
  const calls = callsOf(model);
  const state = useSyncExternalStore(calls.subscribe, calls.getState);
  // Signing out (the model goes away) hangs up a call in progress; nothing to do otherwise.
  useEffect(() => () => void calls.hangUp(), [calls]);
  return (
    <>
      {state.incoming.map((c) => (
        <IncomingCall key={c.id} call={c} onAccept={() => void calls.accept(c.id)} onDecline={() => void calls.decline(c.id)} />
      ))}
      {state.current ? <InCall current={state.current} /> : null}
    </>
  );
}

function IncomingCall(props: { call: Call; onAccept: () => void; onDecline: () => void }) {
  const model = useModel();
  const caller = model.displayName(props.call.createdBy);
  const conv = model.getState().conversations.find((c) => c.id === props.call.conversationId);
  const where = conv && conv.type === 'group' ? ` in ${model.titleOf(conv)}` : '';
  return (
    <div className="call-incoming" role="alertdialog" aria-label={`Incoming ${props.call.kind} call`} aria-describedby={`ring-${props.call.id}`}>
      <p id={`ring-${props.call.id}`} className="call-incoming-text">
        <span className="ring-icon" aria-hidden="true">
          {props.call.kind === 'video' ? '🎥' : '📞'}
        </span>{' '}
        {caller} is calling{where} ({props.call.kind})
      </p>
      <div className="call-actions">
        <button type="button" className="primary" onClick={props.onAccept}>
          Accept
        </button>
        <button type="button" className="danger" onClick={props.onDecline}>
          Decline
        </button>
      </div>
    </div>
  );
}

function InCall(props: { current: CurrentCall }) {
  const model = useModel();
  const calls = callsOf(model);
  const { call, credentials, media } = props.current;
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(t);
  }, []);
  const me = model.getState().me.id;
  const inCall = call.participants.filter((p) => p.state === 'joined');
  const status =
    call.status === 'ringing'
      ? 'Ringing…'
      : media === 'provider'
        ? `Connecting via ${PROVIDER_NAMES[credentials.provider]}…`
        : media === 'connecting'
          ? 'Connecting…'
          : 'Connected';
  const elapsed = call.startedAt ? clock((now - Date.parse(call.startedAt)) / 1000) : '0:00';
  const video = call.kind === 'video';
  return (
    <section className="call-view" aria-label={`${call.kind === 'video' ? 'Video' : 'Audio'} call`} data-call-id={call.id}>
      <header className="call-head">
        <strong>{call.kind === 'video' ? 'Video call' : 'Audio call'}</strong>
        <span className="call-status" role="status" data-testid="call-status">
          {status}
        </span>
        <time className="call-timer" data-testid="call-timer">
          {elapsed}
        </time>
      </header>
      {media === 'provider' ? (
        <p className="muted small" data-testid="call-provider-note">
          The server handed out {PROVIDER_NAMES[credentials.provider]} credentials for this call
          {credentials.provider === 'getstream' ? ` (call ${credentials.callType}:${credentials.callId})` : credentials.provider === 'aliyun' ? ` (channel ${credentials.channelId})` : ''}. This web
          client does not bundle that provider&apos;s SDK, so media does not flow here; apps with the SDK join with these credentials.
        </p>
      ) : null}
      <div className="call-streams">
        {Object.entries(props.current.remote).map(([userId, stream]) => (
          <StreamView key={userId} stream={stream} label={model.displayName(userId)} video={video} />
        ))}
        {props.current.local && video ? <StreamView stream={props.current.local} muted label="You" video /> : null}
      </div>
      {props.current.error ? (
        <p className="error small" role="alert">
          {props.current.error}
        </p>
      ) : null}
      <ul className="call-participants" aria-label="In the call">
        {call.participants.map((p) => (
          <li key={p.userId} className={`call-participant ${p.state}`}>
            {p.userId === me ? 'You' : model.displayName(p.userId)} <span className="muted small">{p.state === 'joined' ? 'in the call' : p.state === 'invited' ? 'ringing' : p.state}</span>
          </li>
        ))}
      </ul>
      <div className="call-actions">
        <button type="button" className="secondary" aria-pressed={props.current.muted} onClick={() => calls.toggleMute()}>
          {props.current.muted ? 'Unmute' : 'Mute'}
        </button>
        {video ? (
          <button type="button" className="secondary" aria-pressed={props.current.cameraOff} onClick={() => calls.toggleCamera()}>
            {props.current.cameraOff ? 'Camera on' : 'Camera off'}
          </button>
        ) : null}
        <button type="button" className="danger" onClick={() => void calls.hangUp()}>
          Hang up
        </button>
      </div>
      <p className="visually-hidden" aria-live="polite">
        {inCall.length} in the call
      </p>
    </section>
  );
}
