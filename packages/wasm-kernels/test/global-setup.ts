import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** Builds the wasm (no-op when up to date) so tests run on a fresh clone. */
export default function setup(): void {
  const script = fileURLToPath(new URL('../scripts/build-wasm.mjs', import.meta.url));
  execFileSync(process.execPath, [script, '--quiet'], { stdio: 'inherit' });
}
