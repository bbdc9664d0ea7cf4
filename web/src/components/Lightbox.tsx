import { useEffect, useRef, useState } from 'react';
import type { Media } from '../../../sdk/index.js';
import { sizeOf } from '../lib/format.js';
import { useModel } from '../lib/hooks.js';
import { Download, ICON, X } from './Icons.js';

/** Saves a file under its name: fetched (the storage answers CORS) so `download` works cross-origin. */
async function saveFile(url: string, filename: string): Promise<void> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`HTTP ${res.status}`);
  const blob = await res.blob();
  const href = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = href;
  a.download = filename;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(href), 10_000);
}

/** An image, full size over the app, with its name, size and a download button. Escape closes. */
export function Lightbox(props: { media: Media; onClose: () => void }) {
  const model = useModel();
  const { media, onClose } = props;
  const [src, setSrc] = useState(media.url ?? media.thumbnailUrl);
  const [retried, setRetried] = useState(false);
  const close = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    const opener = document.activeElement as HTMLElement | null;
    close.current?.focus();
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape') {
        e.preventDefault();
        onClose();
      }
    };
    document.addEventListener('keydown', onKey);
    return () => {
      document.removeEventListener('keydown', onKey);
      opener?.focus?.();
    };
  }, [onClose]);

  const download = async () => {
    let url = src;
    try {
      if (!url) throw new Error('no url');
      await saveFile(url, media.filename);
    } catch {
      // The link may have expired: a fresh one, then the plain way.
      url = (await model.refreshMediaUrl(media.id, 'full')) ?? url;
      if (!url) return model.notice('The file could not be downloaded. Please try again.');
      await saveFile(url, media.filename).catch(() => window.open(url, '_blank', 'noopener'));
    }
  };

  return (
    <div className="lightbox" role="dialog" aria-modal="true" aria-label={`Image ${media.filename}`} onClick={(e) => e.target === e.currentTarget && onClose()}>
      <div className="lightbox-bar">
        <span className="name">
          {media.filename} <span style={{ opacity: 0.7, fontWeight: 400 }}>{sizeOf(media.size)}</span>
        </span>
        <button type="button" className="icon-button" aria-label={`Download ${media.filename}`} title="Download" onClick={() => void download()}>
          <Download size={ICON} aria-hidden={true} />
        </button>
        <button type="button" className="icon-button" aria-label="Close the image" title="Close" ref={close} onClick={onClose}>
          <X size={ICON} aria-hidden={true} />
        </button>
      </div>
      <div className="lightbox-stage" onClick={(e) => e.target === e.currentTarget && onClose()}>
        {src ? (
          <img
            src={src}
            alt={media.filename}
            onError={() => {
              if (retried) return;
              setRetried(true);
              void model.refreshMediaUrl(media.id, 'full').then((u) => u && setSrc(u));
            }}
          />
        ) : null}
      </div>
    </div>
  );
}
