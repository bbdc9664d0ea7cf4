import { useState } from 'react';
import type { LinkPreview } from '../../../sdk/index.js';

/** A link's Open Graph preview (as text; the image is the page's own, not sent with any referrer). */
export function LinkPreviewCard(props: { preview: LinkPreview }) {
  const p = props.preview;
  const [imageOk, setImageOk] = useState(true);
  let host = '';
  try {
    host = new URL(p.url).host;
  } catch {
    /* shown without */
  }
  return (
    <div className="link-preview" data-testid="link-preview">
      <div className="link-preview-body">
        <span className="link-preview-site muted">{p.siteName ?? host}</span>
        <a href={p.url} target="_blank" rel="noopener noreferrer nofollow">
          {p.title ?? p.url}
        </a>
        {p.description ? <p>{p.description}</p> : null}
      </div>
      {p.imageUrl && imageOk ? <img src={p.imageUrl} alt="" loading="lazy" referrerPolicy="no-referrer" onError={() => setImageOk(false)} /> : null}
    </div>
  );
}
