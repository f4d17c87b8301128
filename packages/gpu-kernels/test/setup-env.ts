/**
 * Vitest setup (runs in each test worker before the test files, so before the `webgpu` package is
 * loaded): points the Vulkan loader at the Mesa 25 lavapipe that scripts/setup-system.sh extracts
 * into .cache/lavapipe/, unless VK_ICD_FILENAMES is already set (a real GPU's driver, or another
 * software driver), and gives Dawn/Mesa a private 0700 XDG_RUNTIME_DIR (else every start warns).
 */
import { existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
export const LAVAPIPE_ICD = join(repoRoot, '.cache/lavapipe/lvp_icd.json');

if (!process.env.VK_ICD_FILENAMES && existsSync(LAVAPIPE_ICD)) process.env.VK_ICD_FILENAMES = LAVAPIPE_ICD;
if (!process.env.XDG_RUNTIME_DIR) {
  const dir = join(tmpdir(), `descent-xdg-${process.getuid?.() ?? 'user'}`);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  process.env.XDG_RUNTIME_DIR = dir;
}
