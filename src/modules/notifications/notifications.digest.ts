/** The missed-messages email: one plain-text and one HTML rendering of the same content. */
export interface DigestSection {
  conversationName: string;
  url: string;
  messages: { sender: string; text: string; at: Date }[];
  /** More unread messages than shown. */
  more: boolean;
}

export interface DigestInput {
  recipientName: string;
  sections: DigestSection[];
  appUrl: string;
  unsubscribeUrl: string;
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

function time(d: Date): string {
  return d.toISOString().replace('T', ' ').slice(0, 16) + ' UTC';
}

/** Subject, text and HTML of a digest. */
export function renderDigest(i: DigestInput): { subject: string; text: string; html: string } {
  const count = i.sections.reduce((n, s) => n + s.messages.length, 0);
  const names = i.sections.map((s) => s.conversationName);
  const subject = `${count} unread message${count === 1 ? '' : 's'} in ${names.slice(0, 2).join(', ')}${names.length > 2 ? ` and ${names.length - 2} more` : ''}`;
  const text = [
    `Hi ${i.recipientName},`,
    '',
    'You have unread messages on Parley:',
    '',
    ...i.sections.flatMap((s) => [
      `== ${s.conversationName} (${s.url})`,
      ...s.messages.map((m) => `[${time(m.at)}] ${m.sender}: ${m.text}`),
      ...(s.more ? ['…and more'] : []),
      '',
    ]),
    `Open Parley: ${i.appUrl}`,
    '',
    `Stop these emails: ${i.unsubscribeUrl}`,
    '',
  ].join('\n');
  const html = `<!doctype html><html><body style="font-family:sans-serif">
<p>Hi ${escapeHtml(i.recipientName)},</p>
<p>You have unread messages on Parley:</p>
${i.sections
  .map(
    (s) => `<h3><a href="${escapeHtml(s.url)}">${escapeHtml(s.conversationName)}</a></h3>
<ul>${s.messages.map((m) => `<li><small>${escapeHtml(time(m.at))}</small> <b>${escapeHtml(m.sender)}</b>: ${escapeHtml(m.text)}</li>`).join('')}${s.more ? '<li>…and more</li>' : ''}</ul>`,
  )
  .join('\n')}
<p><a href="${escapeHtml(i.appUrl)}">Open Parley</a></p>
<p style="color:#888;font-size:small"><a href="${escapeHtml(i.unsubscribeUrl)}">Stop these emails</a></p>
</body></html>`;
  return { subject, text, html };
}
