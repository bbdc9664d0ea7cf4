/**
 * Builds the web client into web/dist (served by Parley at `/`). `npm run build:web` from
 * the repository root. In development (`npx vite --config web/vite.config.ts`), API and
 * WebSocket calls are proxied to a Parley on PARLEY_URL (default http://localhost:8080).
 */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

const root = fileURLToPath(new URL('.', import.meta.url));
const target = process.env.PARLEY_URL ?? 'http://localhost:8080';

export default defineConfig({
  root,
  base: '/',
  plugins: [react()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: true,
    target: 'es2022',
  },
  server: {
    // The SDK lives outside web/.
    fs: { allow: [fileURLToPath(new URL('..', import.meta.url))] },
    proxy: {
      '/v1/ws': { target, ws: true },
      '/v1': { target },
    },
  },
});
