/**
 * Finds `@username`, `@all` and `@here` in message text. A mention starts at the text's
 * start or after a character that cannot be part of a name (so e-mail addresses are not
 * mentions), and trailing dots are punctuation, not part of the name.
 */
export function parseMentions(text: string): { usernames: string[]; all: boolean; here: boolean } {
  const usernames = new Set<string>();
  let all = false;
  let here = false;
  const re = /(^|[^a-z0-9_.@])@([a-z0-9_.]{1,40})/gi;
  for (const m of text.matchAll(re)) {
    const name = m[2]!.toLowerCase().replace(/\.+$/, '');
    if (name === 'all') all = true;
    else if (name === 'here') here = true;
    else if (name.length >= 3 && name.length <= 32) usernames.add(name);
  }
  return { usernames: [...usernames], all, here };
}
