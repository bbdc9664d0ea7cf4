import { useEffect, useId, useRef, type ReactNode } from 'react';
import { ICON, X } from './Icons.js';

/**
 * A modal dialog on the native <dialog>: focus moves in and is trapped, Escape closes it,
 * and focus returns to what opened it.
 */
export function Dialog(props: { title: string; onClose: () => void; children: ReactNode; wide?: boolean; hideTitle?: boolean }) {
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  const { onClose } = props;
  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    const opener = document.activeElement as HTMLElement | null;
    if (!d.open) d.showModal();
    const onCancel = (e: Event) => {
      e.preventDefault();
      onClose();
    };
    d.addEventListener('cancel', onCancel);
    return () => {
      d.removeEventListener('cancel', onCancel);
      if (d.open) d.close();
      opener?.focus?.();
    };
  }, [onClose]);
  return (
    <dialog ref={ref} className={props.wide ? 'dialog wide' : 'dialog'} aria-labelledby={titleId}>
      <div className="dialog-head">
        <h2 id={titleId} className={props.hideTitle ? 'visually-hidden' : undefined}>
          {props.title}
        </h2>
        <button type="button" className="icon-button" onClick={onClose} aria-label="Close">
          <X size={ICON} aria-hidden={true} />
        </button>
      </div>
      <div className="dialog-body">{props.children}</div>
    </dialog>
  );
}
