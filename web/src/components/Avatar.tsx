import { useState } from 'react';
import type { User } from '../../../sdk/index.js';
import { hueOf, initialsOf } from '../lib/format.js';

/** A user's picture, or their initials on a colour of their own. Decorative: names are shown beside it. */
export function Avatar(props: { user?: User | undefined; name?: string; id?: string; size?: number; presence?: 'online' | 'offline' | undefined }) {
  const [broken, setBroken] = useState(false);
  const size = props.size ?? 36;
  const name = props.user ? props.user.displayName || props.user.username : (props.name ?? '?');
  const id = props.user?.id ?? props.id ?? name;
  const url = props.user?.avatarUrl;
  return (
    <span className="avatar" style={{ width: size, height: size, fontSize: size * 0.4, background: `hsl(${hueOf(id)} 55% 45%)` }} aria-hidden="true">
      {url && !broken ? <img src={url} alt="" width={size} height={size} onError={() => setBroken(true)} /> : initialsOf(name)}
      {props.presence ? <span className={`presence-dot ${props.presence}`} /> : null}
    </span>
  );
}
