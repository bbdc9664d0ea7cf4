import { useState, type FormEvent } from 'react';
import { ParleyError, RestClient } from '../../../sdk/index.js';
import type { StoredSession } from '../lib/session.js';

/** Log in or sign up; hands the new session to the app. */
export function AuthScreen(props: { onAuthed: (s: StoredSession) => void; notice?: string | undefined }) {
  const [mode, setMode] = useState<'login' | 'signup'>('login');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [fields, setFields] = useState({ login: '', email: '', username: '', displayName: '', password: '' });
  const set = (k: keyof typeof fields) => (e: { target: { value: string } }) => setFields({ ...fields, [k]: e.target.value });

  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    const rest = new RestClient({ baseUrl: location.origin });
    try {
      const r =
        mode === 'login'
          ? await rest.login(fields.login.trim(), fields.password)
          : await rest.signup({
              email: fields.email.trim(),
              username: fields.username.trim().toLowerCase(),
              password: fields.password,
              ...(fields.displayName.trim() ? { displayName: fields.displayName.trim() } : {}),
            });
      props.onAuthed({ tokens: { accessToken: r.accessToken, refreshToken: r.refreshToken }, user: r.user });
    } catch (err) {
      if (err instanceof ParleyError && err.status === 401) setError('Wrong login or password.');
      else if (err instanceof ParleyError && err.status === 409) setError('That email or username is already taken.');
      else setError(err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  }

  const switchTo = (m: 'login' | 'signup') => {
    setMode(m);
    setError(null);
  };

  return (
    <main className="auth">
      <div className="auth-card">
        <h1 className="brand">
          <img src="/favicon.svg" alt="" width={32} height={32} /> Parley
        </h1>
        <div className="tabs" role="tablist" aria-label="Account">
          <button type="button" role="tab" aria-selected={mode === 'login'} onClick={() => switchTo('login')}>
            Log in
          </button>
          <button type="button" role="tab" aria-selected={mode === 'signup'} onClick={() => switchTo('signup')}>
            Sign up
          </button>
        </div>
        {props.notice ? (
          <p className="notice" role="status">
            {props.notice}
          </p>
        ) : null}
        <form onSubmit={submit} aria-label={mode === 'login' ? 'Log in' : 'Sign up'}>
          {mode === 'login' ? (
            <label>
              Email or username
              <input value={fields.login} onChange={set('login')} autoComplete="username" required autoFocus />
            </label>
          ) : (
            <>
              <label>
                Email
                <input type="email" value={fields.email} onChange={set('email')} autoComplete="email" required autoFocus />
              </label>
              <label>
                Username
                <input
                  value={fields.username}
                  onChange={set('username')}
                  autoComplete="username"
                  required
                  minLength={3}
                  maxLength={32}
                  pattern="[a-zA-Z0-9_.]{3,32}"
                  title="3 to 32 letters, digits, _ or ."
                />
              </label>
              <label>
                Display name
                <input value={fields.displayName} onChange={set('displayName')} autoComplete="name" maxLength={64} />
              </label>
            </>
          )}
          <label>
            Password
            <input
              type="password"
              value={fields.password}
              onChange={set('password')}
              autoComplete={mode === 'login' ? 'current-password' : 'new-password'}
              required
              minLength={mode === 'signup' ? 8 : 1}
            />
          </label>
          {error ? (
            <p className="error" role="alert">
              {error}
            </p>
          ) : null}
          <button type="submit" className="primary" disabled={busy}>
            {busy ? 'Please wait…' : mode === 'login' ? 'Log in' : 'Create account'}
          </button>
        </form>
      </div>
    </main>
  );
}
