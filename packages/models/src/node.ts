/**
 * @descent/models/node — checkpoint files on disk (Node only; the browser entry never imports `fs`).
 *
 * Writes are atomic: the bytes go to a temporary file in the same directory, are flushed to disk
 * (fsync), and the temporary file is renamed over the target — so a crash mid-write leaves either
 * the old checkpoint or the new one, never a torn file. Reads check the file's size before reading.
 */
import { randomBytes } from 'node:crypto';
import { open, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { DescentError } from '@descent/core';
import {
  type LoadedCheckpoint,
  type LoadOptions,
  loadCheckpoint,
  type SaveOptions,
  saveCheckpoint,
} from './checkpoint.js';

/** Writes bytes to `path` atomically (temp file + fsync + rename). */
export async function writeFileAtomic(path: string, bytes: Uint8Array): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    const fh = await open(tmp, 'wx');
    try {
      await fh.writeFile(bytes);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}

/** Saves a checkpoint to a safetensors file, atomically. */
export async function saveCheckpointFile(path: string, opts: SaveOptions): Promise<void> {
  await writeFileAtomic(path, await saveCheckpoint(opts));
}

/** Largest checkpoint file read by default (2 GiB: a JS typed array's practical limit). */
export const MAX_CHECKPOINT_BYTES = 2 ** 31 - 1;

/** Loads a checkpoint file into a model (and optimizer); see `loadCheckpoint` for the guarantees. */
export async function loadCheckpointFile(
  path: string,
  opts: LoadOptions & { maxFileBytes?: number },
): Promise<LoadedCheckpoint> {
  const limit = opts.maxFileBytes ?? MAX_CHECKPOINT_BYTES;
  const info = await stat(path);
  if (!info.isFile()) throw new DescentError('loadCheckpointFile', `'${path}' is not a file`);
  if (info.size > limit)
    throw new DescentError(
      'loadCheckpointFile',
      `'${path}' is ${info.size} bytes, over the limit of ${limit}`,
    );
  const fh = await open(path, 'r');
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await fh.readFile());
  } finally {
    await fh.close();
  }
  try {
    return await loadCheckpoint(bytes, opts);
  } catch (e) {
    if (e instanceof DescentError) throw new DescentError('loadCheckpointFile', `'${path}': ${e.message}`);
    throw e;
  }
}
