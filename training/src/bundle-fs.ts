// Node glue for model bundles: write bundle files to a folder, read a folder back for the core loader.
import { readdirSync, statSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { loadBundle, METADATA_FILE, type VerifiedBundle } from '../../src/core/bundle.ts';
import { ConfigError } from './util/cli.ts';

/**
 * Why a bundle must not be written to `dir` (replacing it), or null when it may: `dir` is absent, an empty folder,
 * or a bundle folder (it has moa-lens.json). Anything else holds files that are not ours to delete.
 */
export function bundleTargetProblem(dir: string): string | null {
  let entries: string[];
  try {
    if (!statSync(dir).isDirectory()) return `${dir} exists and is not a folder`;
    entries = readdirSync(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    return `${dir} cannot be read (${(error as Error).message})`;
  }
  if (entries.length === 0 || entries.includes(METADATA_FILE)) return null;
  return `${dir} exists and is not a model bundle (no ${METADATA_FILE}; it holds ${entries.slice(0, 3).join(', ')}${entries.length > 3 ? ', …' : ''}): refusing to replace it; choose another --out or move it away`;
}

/** Writes a bundle folder atomically: into a temporary sibling, then renamed over the target (only a bundle or an empty folder is replaced). */
export async function writeBundleDir(dir: string, files: Map<string, Uint8Array>): Promise<void> {
  const problem = bundleTargetProblem(dir);
  if (problem) throw new ConfigError(problem);
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
