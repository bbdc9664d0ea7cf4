// Prints the README's configuration table, generated from src/config.ts.
import { configTableMarkdown } from '../src/config.js';
console.log(configTableMarkdown());
