// Node glue for model bundles: write bundle files to a folder, read a folder back for the core loader.
import { constants, readdirSync, statSync } from 'node:fs';
import { lstat, mkdir, open, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { loadBundle, METADATA_FILE, MissingBundleFile, type OpenBundleFile, type VerifiedBundle } from '../../src/core/bundle.ts';
import type { TrustRoots } from '../../src/core/bundle-trust.ts';
import { BUILD_TRUST_ROOTS } from '../../src/core/trust-roots.ts';
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

/** Reads and verifies a bundle folder; trust: what counts as shipped or signed (default: this build's). */
export function readBundleDir(dir: string, trust: TrustRoots = BUILD_TRUST_ROOTS): Promise<VerifiedBundle> {
  return loadBundle(openInFolder(dir), { label: dir, trust });
}

/** Files of a bundle folder for the core loader (which checks names and sizes first): regular files only, never followed through a link, read with a bound. */
function openInFolder(dir: string): OpenBundleFile {
  return async (name) => {
    const file = path.join(dir, name);
    const stats = await lstat(file).catch((e: NodeJS.ErrnoException) => {
      throw e.code === 'ENOENT' ? new MissingBundleFile(`no such file in ${dir}`) : e;
    });
    if (!stats.isFile()) throw new Error(`${file} is ${stats.isSymbolicLink() ? 'a symbolic link' : 'not a regular file'}; a bundle's files are regular files inside its folder`);
    return { size: stats.size, read: (max) => readAtMost(file, Math.min(stats.size, max) + 1) };
  };
}

async function readAtMost(file: string, limit: number): Promise<Uint8Array> {
  const handle = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    const buffer = new Uint8Array(limit);
    let n = 0;
    for (let got = -1; got !== 0 && n < limit; n += got) got = (await handle.read(buffer, n, limit - n, n)).bytesRead;
    return buffer.subarray(0, n);
  } finally {
    await handle.close();
  }
}
