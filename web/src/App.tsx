import { useCallback, useEffect, useState } from 'react';
import { AuthScreen } from './components/AuthScreen.js';
import { CallOverlay } from './components/CallOverlay.js';
import { ConversationView } from './components/ConversationView.js';
import { MembersDialog } from './components/MembersDialog.js';
import { NewGroupDialog } from './components/NewGroupDialog.js';
import { ProfileDialog } from './components/ProfileDialog.js';
import { Sidebar } from './components/Sidebar.js';
import { SearchDialog } from './components/SearchDialog.js';
import { ModelContext, useChat, useModel } from './lib/hooks.js';
import { ChatModel } from './lib/model.js';
import { disableWebPush, enableWebPush, notificationPermission, notifyIncoming, requestNotifications } from './lib/notify.js';
import { loadSession, saveSession, type StoredSession } from './lib/session.js';

function conversationFromPath(): string | undefined {
  const m = /^\/c\/([^/]+)/.exec(location.pathname);
  return m ? decodeURIComponent(m[1]!) : undefined;
}

/** Signed out: the auth screen; signed in: the chat, with one model per session. */
export function App() {
  const [session, setSession] = useState<StoredSession | null>(() => loadSession());
  const [model, setModel] = useState<ChatModel | null>(null);
  const [notice, setNotice] = useState<string | undefined>(undefined);

  useEffect(() => {
    if (!session) return;
    const m = new ChatModel(session, location.origin);
    m.onSessionEnded = () => {
      setNotice('Your session ended. Please log in again.');
      setSession(null);
    };
    setModel(m);
    void m.start();
    return () => {
      m.stop();
      setModel(null);
    };
    // Only a login or logout replaces `session` (token rotations are saved, not set).
  }, [session]);

  if (!session) {
    return (
      <AuthScreen
        notice={notice}
        onAuthed={(s) => {
          saveSession(s);
          setNotice(undefined);
          setSession(s);
        }}
      />
    );
  }
  if (!model) return null;
  return (
    <ModelContext.Provider value={model}>
      <Chat
        onLogout={async () => {
          await disableWebPush(model).catch(() => {});
          await model.logout();
          history.replaceState(null, '', '/');
          setSession(null);
        }}
      />
    </ModelContext.Provider>
  );
}

function Chat(props: { onLogout: () => Promise<void> }) {
  const model = useModel();
  const s = useChat();
  const [activeId, setActiveId] = useState<string | undefined>(() => conversationFromPath());
  const [dialog, setDialog] = useState<'profile' | 'group' | 'members' | 'search' | null>(null);
  const [permission, setPermission] = useState(() => notificationPermission());

  const open = useCallback((id: string | undefined) => {
    setActiveId(id);
    const path = id ? `/c/${encodeURIComponent(id)}` : '/';
    if (location.pathname !== path) history.pushState(null, '', path);
  }, []);

  useEffect(() => {
    const onPop = () => setActiveId(conversationFromPath());
    window.addEventListener('popstate', onPop);
    return () => window.removeEventListener('popstate', onPop);
  }, []);

  useEffect(() => model.setActive(activeId), [model, activeId]);

  // Ctrl/Cmd+K opens message search from anywhere.
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === 'k') {
        e.preventDefault();
        setDialog('search');
      }
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, []);

  // The network comes and goes; reading happens when the tab is visible.
  useEffect(() => {
    const online = () => model.setNetwork(true);
    const offline = () => model.setNetwork(false);
    const visible = () => {
      if (document.visibilityState === 'visible' && activeId) void model.markRead(activeId);
    };
    window.addEventListener('online', online);
    window.addEventListener('offline', offline);
    document.addEventListener('visibilitychange', visible);
    return () => {
      window.removeEventListener('online', online);
      window.removeEventListener('offline', offline);
      document.removeEventListener('visibilitychange', visible);
    };
  }, [model, activeId]);

  useEffect(() => {
    model.onIncoming = (m, conv) => notifyIncoming(model, m, conv, open);
    const onSwMessage = (e: MessageEvent) => {
      const data = e.data as { type?: string; conversationId?: string } | null;
      if (data?.type === 'open' && data.conversationId) open(data.conversationId);
    };
    navigator.serviceWorker?.addEventListener('message', onSwMessage);
    return () => {
      model.onIncoming = undefined;
      navigator.serviceWorker?.removeEventListener('message', onSwMessage);
    };
  }, [model, open]);

  // Web Push once notifications are allowed (skipped when the server has no VAPID key).
  useEffect(() => {
    if (permission === 'granted') void enableWebPush(model).catch((err: unknown) => console.warn('parley: web push not enabled', err));
  }, [model, permission]);

  // Dismiss notices after a while.
  useEffect(() => {
    if (!s.notice) return;
    const t = setTimeout(() => model.notice(undefined), 6000);
    return () => clearTimeout(t);
  }, [model, s.notice]);

  const active = activeId ? s.conversations.find((c) => c.id === activeId) : undefined;
  const unavailable = !!activeId && !active && s.conversationsLoaded;

  // The tab title counts unread messages.
  const unread = s.conversations.reduce((n, c) => n + c.unreadCount, 0);
  useEffect(() => {
    document.title = unread > 0 ? `(${unread}) Parley` : 'Parley';
  }, [unread]);

  return (
    <div className={`app${activeId ? ' has-active' : ''}`}>
      <a href="#composer" className="skip-link" onClick={(e) => (e.preventDefault(), document.querySelector<HTMLElement>('.composer-input')?.focus())}>
        Skip to the message box
      </a>
      {s.connection !== 'online' ? (
        <div className={`connection-banner ${s.connection}`} role="status" data-testid="connection-banner">
          {s.connection === 'offline'
            ? 'You are offline. Messages you write are kept and sent when the connection returns.'
            : s.connection === 'reconnecting'
              ? 'Reconnecting…'
              : 'Connecting…'}
        </div>
      ) : null}
      {s.notice ? (
        <div className="toast" role="alert">
          {s.notice}
          <button type="button" className="icon-button" aria-label="Dismiss" onClick={() => model.notice(undefined)}>
            ✕
          </button>
        </div>
      ) : null}
      <Sidebar
        activeId={activeId}
        open={open}
        onProfile={() => setDialog('profile')}
        onNewGroup={() => setDialog('group')}
        onSearch={() => setDialog('search')}
        onLogout={() => void props.onLogout()}
        notifications={{
          state: permission,
          enable: () => void requestNotifications().then(setPermission),
        }}
      />
      <main className="main" id="main">
        {active ? (
          <ConversationView conversation={active} onBack={() => open(undefined)} onMembers={() => setDialog('members')} />
        ) : (
          <div className="empty-state">
            <h2>{unavailable ? 'This conversation is not available' : activeId ? 'Loading the conversation…' : 'Welcome to Parley'}</h2>
            {unavailable ? (
              <button type="button" className="secondary" onClick={() => open(undefined)}>
                Back to conversations
              </button>
            ) : activeId ? null : (
              <p className="muted">Pick a conversation, find someone to talk to, or create a group.</p>
            )}
          </div>
        )}
      </main>
      <CallOverlay />
      {dialog === 'profile' ? <ProfileDialog onClose={() => setDialog(null)} /> : null}
      {dialog === 'search' ? <SearchDialog onClose={() => setDialog(null)} open={open} /> : null}
      {dialog === 'group' ? (
        <NewGroupDialog
          onClose={() => setDialog(null)}
          onCreated={(id) => {
            setDialog(null);
            open(id);
          }}
        />
      ) : null}
      {dialog === 'members' && active ? (
        <MembersDialog
          conversation={active}
          onClose={() => setDialog(null)}
          onLeft={() => {
            setDialog(null);
            open(undefined);
          }}
        />
      ) : null}
    </div>
  );
}
