import { useEffect, useState } from 'react';
import { Dialog } from './Dialog.js';

/** What a confirmation asks. */
export interface ConfirmRequest {
  title: string;
  body: string;
  confirmLabel: string;
  danger?: boolean;
}

type Pending = ConfirmRequest & { resolve: (ok: boolean) => void };
let show: ((p: Pending) => void) | undefined;

/** Asks in a styled dialog (not the browser's confirm()); resolves true when confirmed. */
export function confirmAction(req: ConfirmRequest): Promise<boolean> {
  return new Promise((resolve) => {
    if (!show) return resolve(false);
    show({ ...req, resolve });
  });
}

/** Mounted once: shows the confirmation asked for, if any. */
export function ConfirmHost() {
  const [pending, setPending] = useState<Pending | null>(null);
  useEffect(() => {
    show = setPending;
    return () => {
      show = undefined;
    };
  }, []);
  if (!pending) return null;
  const done = (ok: boolean) => {
    pending.resolve(ok);
    setPending(null);
  };
  return (
    <Dialog title={pending.title} onClose={() => done(false)}>
      <p className="confirm-text">{pending.body}</p>
      <div className="dialog-actions">
        <button type="button" className={pending.danger ? 'danger solid' : 'primary'} onClick={() => done(true)} autoFocus>
          {pending.confirmLabel}
        </button>
        <button type="button" className="secondary" onClick={() => done(false)}>
          Cancel
        </button>
      </div>
    </Dialog>
  );
}
