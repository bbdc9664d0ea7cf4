/**
 * The one Markdown parser of the client (markdown-it with raw HTML off; images, headings,
 * tables and rules off too: chat, not documents), and the plain text of a message for
 * one-line places (previews, reply quotes, notifications).
 */
import markdownit, { type Token } from 'markdown-it';

export const md = markdownit('default', { html: false, linkify: true, breaks: true, typographer: false });
md.disable(['image', 'heading', 'lheading', 'table', 'hr', 'reference', 'html_block', 'html_inline']);
md.linkify.set({ fuzzyLink: false, fuzzyEmail: false, fuzzyIP: false });

function collect(tokens: readonly Token[], out: string[]): void {
  for (const t of tokens) {
    if (t.children) collect(t.children, out);
    else if (t.type === 'text' || t.type === 'code_inline') out.push(t.content);
    else if (t.type === 'fence' || t.type === 'code_block') out.push(` ${t.content.trim()} `);
    else if (t.type === 'softbreak' || t.type === 'hardbreak' || t.type === 'paragraph_close' || t.type === 'list_item_close') out.push(' ');
  }
}

/** `**bold** _it_` → `bold it`: what a message says, without its markup, on one line. */
export function plainText(text: string): string {
  try {
    const out: string[] = [];
    collect(md.parse(text, {}), out);
    return out.join('').replace(/\s+/g, ' ').trim();
  } catch {
    return text;
  }
}
