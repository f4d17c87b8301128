#!/usr/bin/env node
// Serves the built demo (dist/) with the cross-origin isolation headers from vite.config.ts and
// prints the URL. Options: --port N (default 5173), --host H (default localhost).
import { preview } from 'vite';

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1] : fallback;
};
const root = new URL('..', import.meta.url).pathname;
const server = await preview({
  root,
  logLevel: 'warn',
  preview: { port: Number(arg('port', 5173)), host: arg('host', 'localhost'), strictPort: false },
});
const url = server.resolvedUrls?.local[0] ?? `http://localhost:${server.config.preview.port}/`;
console.log(`\n  descent demo: ${url}\n  (Ctrl+C to stop)\n`);
