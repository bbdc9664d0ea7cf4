/**
 * The web client's calls: incoming rings (in every open tab: each gets `call.ringing` over
 * its own connection), the call this tab is in, and for p2p calls the WebRTC mesh itself —
 * one RTCPeerConnection per other participant, offers/answers/ICE candidates exchanged
 * with `call.signal` frames. For GetStream and Aliyun calls the server hands out that
 * provider's credentials; their SDKs are not part of this client, so the in-call view
 * says so instead of pretending to connect.
 */
import { ParleyError, type Call, type CallCredentials, type CallKind, type IceServer } from '../../../sdk/index.js';
import type { ChatModel } from './model.js';

export interface CurrentCall {
  call: Call;
  credentials: CallCredentials;
  muted: boolean;
  cameraOff: boolean;
  /** p2p: connecting until a peer's media flows; providers: which one we would hand over to. */
  media: 'connecting' | 'connected' | 'provider';
  local?: MediaStream;
  /** userId → their media. */
  remote: Record<string, MediaStream>;
  error?: string;
}

export interface CallsState {
  /** Calls ringing for me (not answered in any tab yet). */
  incoming: Call[];
  current?: CurrentCall;
}

/**
 * What peers send each other in `call.signal` frames. `ready` is the answering side saying
 * "my media is up and I hold no offer from you": the offering side (re)sends its offer, so a
 * first offer that came too early, or a peer that reloaded, never leaves the call silent.
 */
type Signal = { kind: 'offer' | 'answer'; sdp: string } | { kind: 'ice'; candidate: RTCIceCandidateInit } | { kind: 'ready' };

/** Signals come from another browser: anything not shaped like one is dropped. */
function asSignal(data: unknown): Signal | undefined {
  if (!data || typeof data !== 'object') return undefined;
  const d = data as Record<string, unknown>;
  if ((d.kind === 'offer' || d.kind === 'answer') && typeof d.sdp === 'string') return { kind: d.kind, sdp: d.sdp };
  if (d.kind === 'ice' && d.candidate && typeof d.candidate === 'object') return { kind: 'ice', candidate: d.candidate as RTCIceCandidateInit };
  if (d.kind === 'ready') return { kind: 'ready' };
  return undefined;
}

/** Signals kept while this tab is not yet in the call (joining, or waiting for the camera). */
const EARLY_SIGNALS_MAX = 500;

interface Peer {
  pc: RTCPeerConnection;
  /** Candidates that came before the remote description. */
  pending: RTCIceCandidateInit[];
  /** Signals from this peer are handled one after another, in the order they came. */
  queue: Promise<void>;
}

/**
 * Forces TURN relaying when `localStorage['parley.iceTransportPolicy'] === 'relay'`: how an
 * operator checks their TURN server from a browser (and how the relay test runs).
 */
function transportPolicy(): RTCIceTransportPolicy {
  try {
    return localStorage.getItem('parley.iceTransportPolicy') === 'relay' ? 'relay' : 'all';
  } catch {
    return 'all';
  }
}

const controllers = new WeakMap<ChatModel, CallController>();

/** The one call controller of a signed-in model (created on first use). */
export function callsOf(model: ChatModel): CallController {
  let c = controllers.get(model);
  if (!c) controllers.set(model, (c = new CallController(model)));
  return c;
}

export class CallController {
  private state: CallsState = { incoming: [] };
  private readonly listeners = new Set<() => void>();
  private readonly peers = new Map<string, Peer>();
  private readonly offs: (() => void)[] = [];
  /**
   * Signals that came before this tab could use them: the peer's offer and candidates can
   * beat our own join response, and always beat our getUserMedia. Replayed once media is up.
   */
  private early: { callId: string; from: string; data: Signal }[] = [];

  constructor(private readonly model: ChatModel) {
    const client = model.client;
    this.offs.push(
      client.on('call.ringing', ({ call }) => this.onRinging(call)),
      client.on('call.updated', ({ call }) => this.onUpdated(call)),
      client.on('call.ended', ({ call }) => this.onUpdated(call)),
      client.on('call.signal', ({ callId, from, data }) => this.onSignal(callId, from, data)),
    );
    // Closing the tab hangs up (the server would otherwise wait CALLS_OFFLINE_GRACE).
    const onHide = () => {
      const cur = this.state.current;
      const token = model.client.rest.accessToken;
      if (!cur || !token) return;
      void fetch(`${model.client.rest.baseUrl}/v1/calls/${encodeURIComponent(cur.call.id)}/leave`, { method: 'POST', keepalive: true, headers: { authorization: `Bearer ${token}` } }).catch(() => {});
    };
    addEventListener('pagehide', onHide);
    this.offs.push(() => removeEventListener('pagehide', onHide));
    // For diagnostics in the console (and the browser tests): bytes received per media kind.
    (globalThis as { parleyCalls?: CallController }).parleyCalls = this;
  }

  getState = (): CallsState => this.state;
  subscribe = (fn: () => void): (() => void) => {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  };

  private set(patch: Partial<CallsState>): void {
    this.state = { ...this.state, ...patch };
    for (const l of this.listeners) l();
  }

  private patchCurrent(patch: Partial<CurrentCall>): void {
    if (this.state.current) this.set({ current: { ...this.state.current, ...patch } });
  }

  private get me(): string {
    return this.model.getState().me.id;
  }

  // --- events ----------------------------------------------------------------------------

  private onRinging(call: Call): void {
    const mine = call.participants.find((p) => p.userId === this.me);
    if (call.status === 'ended' || mine?.state !== 'invited' || this.state.incoming.some((c) => c.id === call.id)) return;
    this.set({ incoming: [...this.state.incoming, call] });
    void this.model.ensureUsers([call.createdBy]);
  }

  private onUpdated(call: Call): void {
    const mine = call.participants.find((p) => p.userId === this.me);
    // Answered or declined in another tab, or over: stop ringing here.
    if (this.state.incoming.some((c) => c.id === call.id) && (call.status === 'ended' || mine?.state !== 'invited')) {
      this.set({ incoming: this.state.incoming.filter((c) => c.id !== call.id) });
    }
    // A ring this tab missed (it connected after the call.ringing went out) still rings.
    if (call.status !== 'ended' && mine?.state === 'invited' && this.state.current?.call.id !== call.id) this.onRinging(call);
    const cur = this.state.current;
    if (!cur || cur.call.id !== call.id) return;
    if (call.status === 'ended' || mine?.state !== 'joined') {
      this.teardown();
      return;
    }
    this.patchCurrent({ call });
    if (cur.credentials.provider === 'p2p') this.connectPeers(call);
  }

  // --- actions ---------------------------------------------------------------------------

  /** Starts a call in a conversation (or joins the one already open there). */
  async start(conversationId: string, kind: CallKind): Promise<void> {
    if (this.state.current) return;
    try {
      const { call, credentials } = await this.model.client.rest.startCall(conversationId, kind);
      await this.enter(call, credentials);
    } catch (err) {
      this.model.notice(`Could not start the call: ${err instanceof ParleyError ? err.message : String(err)}`);
    }
  }

  async accept(callId: string): Promise<void> {
    this.set({ incoming: this.state.incoming.filter((c) => c.id !== callId) });
    if (this.state.current) await this.hangUp();
    try {
      const { call, credentials } = await this.model.client.rest.joinCall(callId);
      await this.enter(call, credentials);
    } catch (err) {
      this.model.notice(`Could not join the call: ${err instanceof ParleyError ? err.message : String(err)}`);
    }
  }

  async decline(callId: string): Promise<void> {
    this.set({ incoming: this.state.incoming.filter((c) => c.id !== callId) });
    await this.model.client.rest.declineCall(callId).catch(() => {});
  }

  async hangUp(): Promise<void> {
    const cur = this.state.current;
    if (!cur) return;
    this.teardown();
    await this.model.client.rest.leaveCall(cur.call.id).catch(() => {});
  }

  toggleMute(): void {
    const cur = this.state.current;
    if (!cur) return;
    const muted = !cur.muted;
    for (const t of cur.local?.getAudioTracks() ?? []) t.enabled = !muted;
    this.patchCurrent({ muted });
  }

  toggleCamera(): void {
    const cur = this.state.current;
    if (!cur) return;
    const cameraOff = !cur.cameraOff;
    for (const t of cur.local?.getVideoTracks() ?? []) t.enabled = !cameraOff;
    this.patchCurrent({ cameraOff });
  }

  private async enter(call: Call, credentials: CallCredentials): Promise<void> {
    if (credentials.provider !== 'p2p') {
      this.set({ current: { call, credentials, muted: false, cameraOff: false, media: 'provider', remote: {} } });
      return;
    }
    this.set({ current: { call, credentials, muted: false, cameraOff: false, media: 'connecting', remote: {} } });
    try {
      const local = await navigator.mediaDevices.getUserMedia({ audio: true, video: call.kind === 'video' });
      if (this.state.current?.call.id !== call.id) {
        for (const t of local.getTracks()) t.stop();
        return;
      }
      this.patchCurrent({ local });
      const early = this.early.filter((e) => e.callId === call.id);
      this.early = [];
      this.connectPeers(this.state.current.call);
      for (const e of early) this.onSignal(e.callId, e.from, e.data);
      // The answering side asks for an offer if none came (see Signal).
      for (const [userId, peer] of this.peers) {
        if (this.me > userId) this.chain(peer, async () => (peer.pc.remoteDescription ? undefined : this.send(call.id, userId, { kind: 'ready' })));
      }
    } catch (err) {
      this.patchCurrent({ error: `No microphone or camera: ${err instanceof Error ? err.message : String(err)}` });
    }
  }

  private teardown(): void {
    this.early = [];
    for (const p of this.peers.values()) p.pc.close();
    this.peers.clear();
    for (const t of this.state.current?.local?.getTracks() ?? []) t.stop();
    this.set({ current: undefined });
  }

  // --- WebRTC mesh (p2p) -----------------------------------------------------------------

  private iceServers(): IceServer[] {
    const c = this.state.current?.credentials;
    return c?.provider === 'p2p' ? c.iceServers : [];
  }

  /** One connection per other participant in the call; the smaller user id makes the offer (no glare). */
  private connectPeers(call: Call): void {
    if (!this.state.current?.local) return;
    for (const p of call.participants) {
      if (p.userId === this.me || p.state !== 'joined' || this.peers.has(p.userId)) continue;
      const peer = this.peer(call.id, p.userId);
      if (this.me < p.userId) this.chain(peer, () => this.offer(call.id, p.userId, peer));
    }
    for (const [userId, peer] of this.peers) {
      if (!call.participants.some((p) => p.userId === userId && p.state === 'joined')) {
        peer.pc.close();
        this.peers.delete(userId);
        const remote = { ...(this.state.current?.remote ?? {}) };
        delete remote[userId];
        this.patchCurrent({ remote });
      }
    }
  }

  private peer(callId: string, userId: string): Peer {
    const existing = this.peers.get(userId);
    if (existing) return existing;
    const pc = new RTCPeerConnection({ iceServers: this.iceServers(), iceTransportPolicy: transportPolicy() });
    const peer: Peer = { pc, pending: [], queue: Promise.resolve() };
    this.peers.set(userId, peer);
    for (const t of this.state.current?.local?.getTracks() ?? []) pc.addTrack(t, this.state.current!.local!);
    pc.onicecandidate = (e) => {
      if (e.candidate) this.send(callId, userId, { kind: 'ice', candidate: e.candidate.toJSON() });
    };
    pc.ontrack = (e) => {
      const stream = e.streams[0] ?? new MediaStream([e.track]);
      this.patchCurrent({ remote: { ...(this.state.current?.remote ?? {}), [userId]: stream } });
    };
    pc.onconnectionstatechange = () => {
      if (pc.connectionState === 'connected') this.patchCurrent({ media: 'connected', error: undefined });
      else if (pc.connectionState === 'failed') this.patchCurrent({ error: 'The media connection failed (no route between you: a TURN server may be needed).' });
    };
    return peer;
  }

  private send(callId: string, to: string, data: Signal): void {
    this.model.client.callSignal(callId, to, data);
  }

  private async offer(callId: string, userId: string, peer: Peer): Promise<void> {
    const offer = await peer.pc.createOffer();
    await peer.pc.setLocalDescription(offer);
    this.send(callId, userId, { kind: 'offer', sdp: offer.sdp ?? '' });
  }

  /** Runs `step` after everything already queued for this peer; a failure is logged, never thrown. */
  private chain(peer: Peer, step: () => Promise<void> | void): void {
    peer.queue = peer.queue.then(step).catch((err: unknown) => console.warn('parley: call signal failed', err));
  }

  private onSignal(callId: string, from: string, raw: unknown): void {
    const data = asSignal(raw);
    if (!data) return;
    const cur = this.state.current;
    if (cur && cur.call.id !== callId) return;
    if (cur && cur.credentials.provider !== 'p2p') return;
    if (!cur || !cur.local) {
      // Not in this call yet (the join response or the camera is still on its way): keep it.
      if (this.early.length < EARLY_SIGNALS_MAX) this.early.push({ callId, from, data });
      return;
    }
    const peer = this.peer(callId, from);
    this.chain(peer, () => this.handleSignal(callId, from, peer, data));
  }

  private async handleSignal(callId: string, from: string, peer: Peer, data: Signal): Promise<void> {
    const { pc } = peer;
    if (data.kind === 'ready') {
      if (this.me > from) return; // only the smaller id offers
      if (pc.signalingState === 'have-local-offer' && pc.localDescription) {
        this.send(callId, from, { kind: 'offer', sdp: pc.localDescription.sdp });
      } else if (pc.remoteDescription) {
        // They started over (a reload) while we still hold the old session: start a new one.
        pc.close();
        this.peers.delete(from);
        const fresh = this.peer(callId, from);
        this.chain(fresh, () => this.offer(callId, from, fresh));
      } else {
        await this.offer(callId, from, peer);
      }
      return;
    }
    if (data.kind === 'ice') {
      if (!pc.remoteDescription) {
        peer.pending.push(data.candidate);
        return;
      }
      await pc.addIceCandidate(data.candidate);
      return;
    }
    if (data.kind === 'offer') {
      if (pc.remoteDescription?.sdp === data.sdp) return; // the same offer sent again
      await pc.setRemoteDescription({ type: 'offer', sdp: data.sdp });
      const answer = await pc.createAnswer();
      await pc.setLocalDescription(answer);
      this.send(callId, from, { kind: 'answer', sdp: answer.sdp ?? '' });
    } else {
      if (pc.signalingState !== 'have-local-offer') return; // an answer to an offer already answered
      await pc.setRemoteDescription({ type: 'answer', sdp: data.sdp });
    }
    for (const c of peer.pending.splice(0)) await pc.addIceCandidate(c);
  }

  /** Bytes received per media kind over every peer connection, and the candidate types in use. */
  async inboundStats(): Promise<{ audio: number; video: number; candidateTypes: string[] }> {
    const out = { audio: 0, video: 0, candidateTypes: [] as string[] };
    for (const { pc } of this.peers.values()) {
      const stats = await pc.getStats();
      const byId = new Map<string, Record<string, unknown>>();
      stats.forEach((s: Record<string, unknown>) => byId.set(s.id as string, s));
      for (const s of byId.values()) {
        if (s.type === 'inbound-rtp' && (s.kind === 'audio' || s.kind === 'video')) out[s.kind] += Number(s.bytesReceived ?? 0);
        if (s.type === 'candidate-pair' && s.nominated && s.state === 'succeeded') {
          const local = byId.get(s.localCandidateId as string);
          if (local?.candidateType) out.candidateTypes.push(String(local.candidateType));
        }
      }
    }
    return out;
  }

  stop(): void {
    for (const off of this.offs) off();
    this.teardown();
  }
}
