import { useEffect, useRef, useState } from 'react';
import { useModel } from '../lib/hooks.js';
import type { NotificationSettings } from '../lib/model.js';
import { Bell, BellOff, Check, ICON } from './Icons.js';

const LEVELS: { level: NotificationSettings['level']; label: string }[] = [
  { level: 'all', label: 'All new messages' },
  { level: 'mentions', label: 'Mentions only' },
  { level: 'none', label: 'Nothing' },
];

const MUTES: { label: string; ms: number | null }[] = [
  { label: 'For 1 hour', ms: 3600_000 },
  { label: 'For 8 hours', ms: 8 * 3600_000 },
  { label: 'For 1 day', ms: 24 * 3600_000 },
  { label: 'Until I turn it back on', ms: null },
];

/** Far enough in the future to mean "until unmuted" for a server that wants a time. */
const FOREVER = '9999-12-31T00:00:00.000Z';

function mutedNow(s: NotificationSettings): boolean {
  return !!s.mutedUntil && Date.parse(s.mutedUntil) > Date.now();
}

/**
 * The bell in the conversation header: notification level (all, mentions, none) and mute.
 * Built on GET/PUT /v1/conversations/:id/notifications; hidden while the server has no
 * such route (the GET fails).
 */
export function NotificationMenu(props: { conversationId: string }) {
  const model = useModel();
  const [settings, setSettings] = useState<NotificationSettings | null>(null);
  const [open, setOpen] = useState(false);
  const menu = useRef<HTMLDivElement>(null);
  const button = useRef<HTMLButtonElement>(null);

  useEffect(() => {
    let live = true;
    setSettings(null);
    void model.notificationSettings(props.conversationId).then((s) => live && setSettings(s));
    return () => {
      live = false;
    };
  }, [model, props.conversationId]);

  useEffect(() => {
    if (!open) return;
    menu.current?.querySelector<HTMLButtonElement>('button[aria-checked="true"], button')?.focus();
    const onDown = (e: MouseEvent) => {
      if (!menu.current?.contains(e.target as Node) && !button.current?.contains(e.target as Node)) setOpen(false);
    };
    document.addEventListener('mousedown', onDown);
    return () => document.removeEventListener('mousedown', onDown);
  }, [open]);

  if (!settings) return null;
  const muted = mutedNow(settings);
  const quiet = muted || settings.level === 'none';
  const save = async (next: NotificationSettings) => {
    setOpen(false);
    button.current?.focus();
    const saved = await model.saveNotificationSettings(props.conversationId, next);
    if (saved) setSettings(saved);
  };
  const label = muted ? `Notifications: muted${settings.mutedUntil && settings.mutedUntil < '9999' ? ` until ${new Date(settings.mutedUntil).toLocaleString()}` : ''}` : `Notifications: ${LEVELS.find((l) => l.level === settings.level)?.label ?? ''}`;

  return (
    <>
      <button
        type="button"
        ref={button}
        className="icon-button"
        aria-label="Notification settings"
        title={label}
        aria-haspopup="menu"
        aria-expanded={open}
        data-testid="notification-button"
        data-muted={quiet ? 'true' : 'false'}
        onClick={() => setOpen(!open)}
      >
        {quiet ? <BellOff size={ICON} aria-hidden={true} /> : <Bell size={ICON} aria-hidden={true} />}
      </button>
      {open ? (
        <div
          className="menu"
          role="menu"
          aria-label="Notifications for this conversation"
          ref={menu}
          onKeyDown={(e) => {
            if (e.key === 'Escape') {
              e.stopPropagation();
              setOpen(false);
              button.current?.focus();
            }
            if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
              e.preventDefault();
              const items = [...(menu.current?.querySelectorAll<HTMLButtonElement>('button') ?? [])];
              const i = items.indexOf(document.activeElement as HTMLButtonElement);
              items[(i + (e.key === 'ArrowDown' ? 1 : items.length - 1)) % items.length]?.focus();
            }
          }}
        >
          <h3>Notify me about</h3>
          {LEVELS.map((l) => (
            <button type="button" role="menuitemradio" aria-checked={settings.level === l.level} key={l.level} onClick={() => void save({ ...settings, level: l.level })}>
              <span className="check">{settings.level === l.level ? <Check size={16} aria-hidden={true} /> : null}</span>
              {l.label}
            </button>
          ))}
          <h3>{muted ? 'Muted' : 'Mute'}</h3>
          {muted ? (
            <button type="button" role="menuitem" onClick={() => void save({ ...settings, mutedUntil: null })}>
              <span className="check" />
              Unmute
            </button>
          ) : (
            MUTES.map((m) => (
              <button type="button" role="menuitem" key={m.label} onClick={() => void save({ ...settings, mutedUntil: m.ms === null ? FOREVER : new Date(Date.now() + m.ms).toISOString() })}>
                <span className="check" />
                {m.label}
              </button>
            ))
          )}
        </div>
      ) : null}
    </>
  );
}
