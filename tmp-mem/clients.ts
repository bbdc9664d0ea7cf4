import WebSocket from 'ws';
const [url, token, nStr] = process.argv.slice(2);
const n = Number(nStr);
const socks: WebSocket[] = [];
let ready = 0;
for (let i = 0; i < n; i++) {
  const ws = new WebSocket(`${url}?token=${encodeURIComponent(token!)}`);
  ws.on('message', (d) => { if (String(d).startsWith('{"type":"ready"')) { ready++; if (ready === n) process.send!('ready'); } });
  ws.on('error', (e) => { console.error('err', e.message); });
  socks.push(ws);
  if (i % 50 === 49) await new Promise((r) => setTimeout(r, 20));
}
process.on('message', () => { for (const s of socks) s.terminate(); process.exit(0); });
