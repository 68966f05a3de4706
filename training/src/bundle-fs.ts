// Node glue for model bundles: write bundle files to a folder, read a folder back for the core loader.
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { loadBundle, type VerifiedBundle } from '../../src/core/bundle.ts';

/** Writes a bundle folder atomically: into a temporary sibling, then renamed over the target. */
export async function writeBundleDir(dir: string, files: Map<string, Uint8Array>): Promise<void> {
  const tmp = `${dir}.tmp-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  for (const [name, bytes] of files) await writeFile(path.join(tmp, name), bytes);
  await rm(dir, { recursive: true, force: true });
  await rename(tmp, dir);
}

export function readBundleDir(dir: string): Promise<VerifiedBundle> {
  return loadBundle(async (name) => new Uint8Array(await readFile(path.join(dir, name))), dir);
}
