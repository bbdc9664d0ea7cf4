// Prints the README's configuration table, generated from src/config.ts; with --write,
// replaces the table in README.md in place (the block of table lines that starts with the
// table's header row).
import { readFileSync, writeFileSync } from 'node:fs';
import { configTableMarkdown } from '../src/config.js';

const table = configTableMarkdown();
if (process.argv.includes('--write')) {
  const file = new URL('../README.md', import.meta.url);
  const lines = readFileSync(file, 'utf8').split('\n');
  const header = table.split('\n')[0]!;
  const start = lines.indexOf(header);
  if (start < 0) throw new Error(`README.md has no configuration table (a line "${header}")`);
  let end = start;
  while (end < lines.length && lines[end]!.startsWith('|')) end++;
  lines.splice(start, end - start, ...table.split('\n'));
  writeFileSync(file, lines.join('\n'));
  console.log(`README.md: configuration table rewritten (${end - start} lines → ${table.split('\n').length})`);
} else {
  console.log(table);
}
