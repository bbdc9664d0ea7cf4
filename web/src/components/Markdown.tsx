import type { Token } from 'markdown-it';
import type { ReactNode } from 'react';
import type { User } from '../../../sdk/index.js';
import { replaceShortcodes, useEmojiData } from '../lib/emoji.js';

/**
 * Chat Markdown: bold, italic, strike, inline code, code blocks, quotes, lists and links,
 * with raw HTML off. markdown-it only parses; its tokens become React elements here, so
 * nothing is ever inserted as HTML, and a link is kept only for http(s) and mailto.
 */
import { md } from '../lib/markdown.js';

const SAFE_HREF = /^(https?:|mailto:)/i;
const MENTION = /(@[a-z0-9_.]+)/gi;
const EMOJI_ONLY = /^(\p{Extended_Pictographic}|\p{Emoji_Component}|\u200d|\ufe0f|\s)+$/u;

interface Ctx {
  mentioned: Set<string>;
  shortcodes: Map<string, string> | undefined;
  key: number;
}

function text(s: string, ctx: Ctx): ReactNode[] {
  const withEmoji = replaceShortcodes(s, ctx.shortcodes);
  const out: ReactNode[] = [];
  let last = 0;
  for (const m of withEmoji.matchAll(MENTION)) {
    const start = m.index;
    // An @ inside a word (an email address) is not a mention.
    if (start > 0 && /[\w.]/.test(withEmoji[start - 1]!)) continue;
    const name = m[0].slice(1).toLowerCase();
    if (!(ctx.mentioned.has(name) || name === 'all' || name === 'here')) continue;
    if (start > last) out.push(withEmoji.slice(last, start));
    out.push(
      <span key={ctx.key++} className="mention">
        {m[0]}
      </span>,
    );
    last = start + m[0].length;
  }
  if (last < withEmoji.length) out.push(withEmoji.slice(last));
  return out;
}

function closeOf(tokens: Token[], i: number): number {
  let depth = 0;
  for (let j = i; j < tokens.length; j++) {
    depth += tokens[j]!.nesting;
    if (depth === 0) return j;
  }
  return tokens.length - 1;
}

function render(tokens: Token[], ctx: Ctx): ReactNode[] {
  const out: ReactNode[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (t.nesting === 1) {
      const j = closeOf(tokens, i);
      const children = render(tokens.slice(i + 1, j), ctx);
      i = j;
      const key = ctx.key++;
      switch (t.tag) {
        case 'p':
          out.push(<p key={key}>{children}</p>);
          break;
        case 'strong':
          out.push(<strong key={key}>{children}</strong>);
          break;
        case 'em':
          out.push(<em key={key}>{children}</em>);
          break;
        case 's':
          out.push(<s key={key}>{children}</s>);
          break;
        case 'blockquote':
          out.push(<blockquote key={key}>{children}</blockquote>);
          break;
        case 'ul':
          out.push(<ul key={key}>{children}</ul>);
          break;
        case 'ol': {
          const start = Number(t.attrGet('start') ?? 1);
          out.push(
            <ol key={key} start={Number.isFinite(start) ? start : 1}>
              {children}
            </ol>,
          );
          break;
        }
        case 'li':
          out.push(<li key={key}>{children}</li>);
          break;
        case 'a': {
          const href = String(t.attrGet('href') ?? '');
          out.push(
            SAFE_HREF.test(href) ? (
              <a key={key} href={href} target="_blank" rel="noopener noreferrer nofollow">
                {children}
              </a>
            ) : (
              <span key={key}>{children}</span>
            ),
          );
          break;
        }
        default:
          out.push(<span key={key}>{children}</span>);
      }
      continue;
    }
    switch (t.type) {
      case 'inline':
        out.push(...render(t.children ?? [], ctx));
        break;
      case 'text':
        out.push(...text(t.content, ctx));
        break;
      case 'code_inline':
        out.push(<code key={ctx.key++}>{t.content}</code>);
        break;
      case 'fence':
      case 'code_block':
        out.push(
          <pre key={ctx.key++}>
            <code>{t.content.replace(/\n$/, '')}</code>
          </pre>,
        );
        break;
      case 'softbreak':
      case 'hardbreak':
        out.push(<br key={ctx.key++} />);
        break;
      default:
        if (t.content) out.push(t.content);
    }
  }
  return out;
}

/** Message text as Markdown (see above), with known @mentions and :shortcodes:. */
export function Markdown(props: { text: string; users: Record<string, User>; mentions: readonly string[] }) {
  const emoji = useEmojiData();
  const mentioned = new Set(props.mentions.map((id) => props.users[id]?.username?.toLowerCase()).filter((x): x is string => !!x));
  const tokens = md.parse(props.text, {});
  const nodes = render(tokens, { mentioned, shortcodes: emoji?.byShortcode, key: 0 });
  const big = EMOJI_ONLY.test(replaceShortcodes(props.text, emoji?.byShortcode)) && [...props.text.trim()].length <= 8 && /\p{Extended_Pictographic}/u.test(replaceShortcodes(props.text, emoji?.byShortcode));
  return <div className={big ? 'md jumbo' : 'md'}>{nodes}</div>;
}
