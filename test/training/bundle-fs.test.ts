// The Node bundle loader (readBundleDir): nothing outside the bundle folder, nothing larger than the bundle records, clear messages.
import { cp, mkdir, readFile, rm, symlink, truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { METADATA_FILE } from '../../src/core/bundle-format.ts';
import { readBundleDir } from '../../training/src/bundle-fs.ts';
import { tinyBundleFiles, writeFilesTo } from '../browser/harness/fixtures.ts';
import { tempDir } from '../browser/harness/server.ts';

const SHARD = 'group1-shard1of1.bin';
let tmp: { dir: string; cleanup: () => Promise<void> };
let files: Map<string, Uint8Array>;

beforeAll(async () => {
  await tf.setBackend('cpu');
  tmp = await tempDir('moa-lens-bundle-fs-');
  files = await tinyBundleFiles({ height: 64, width: 64, widthMultiplier: 0.125, seed: 2 });
});

afterAll(() => tmp?.cleanup());

/** A fresh copy of the test bundle in its own folder, with moa-lens.json edited by `edit`. */
async function bundleDir(name: string, edit?: (m: Record<string, any>) => void): Promise<string> {
  const dir = path.join(tmp.dir, name);
  await writeFilesTo(dir, files);
  if (edit) {
    const m = JSON.parse(await readFile(path.join(dir, METADATA_FILE), 'utf8'));
    edit(m);
    await writeFile(path.join(dir, METADATA_FILE), JSON.stringify(m));
  }
  return dir;
}

function renameShard(to: string) {
  return (m: Record<string, any>) => {
    m.files[to] = m.files[SHARD];
    delete m.files[SHARD];
  };
}

describe('readBundleDir', () => {
  it('reads a bundle folder; an unpinned, unsigned bundle is unverified', async () => {
    const dir = await bundleDir('ok');
    const bundle = await readBundleDir(dir);
    expect(bundle.metadata.files[SHARD].bytes).toBe(files.get(SHARD)!.length);
    expect(bundle.trust.status).toBe('unverified');
  });

  it('refuses a bundle naming ../orig/... even when the file there has the right hash', async () => {
    await writeFilesTo(path.join(tmp.dir, 'orig'), files);
    const dir = await bundleDir('escape', renameShard('../orig/group1-shard1of1.bin'));
    await rm(path.join(dir, SHARD));
    await expect(readBundleDir(dir)).rejects.toThrow(`${dir}: moa-lens.json: "../orig/group1-shard1of1.bin" is not a plain file name inside the bundle folder`);
  });

  it('refuses ../../../../dev/zero and absolute names without reading them', async () => {
    for (const name of ['../../../../dev/zero', '/dev/zero']) {
      const dir = await bundleDir('zero', renameShard(name));
      const before = process.memoryUsage().rss;
      await expect(readBundleDir(dir)).rejects.toThrow(`"${name}" is not a plain file name inside the bundle folder (no "/", "\\", ".." or absolute paths)`);
      expect(process.memoryUsage().rss - before).toBeLessThan(64 * 2 ** 20);
    }
  });

  it('refuses an oversize shard (a sparse 8 GiB file) by its size, without reading it', async () => {
    const dir = await bundleDir('sparse');
    await truncate(path.join(dir, SHARD), 8 * 2 ** 30);
    const before = process.memoryUsage().rss;
    const t0 = performance.now();
    await expect(readBundleDir(dir)).rejects.toThrow(`${dir}: ${SHARD} is missing or not the bundle's file: it has 8589934592 bytes where moa-lens.json records ${files.get(SHARD)!.length}.`);
    expect(performance.now() - t0).toBeLessThan(5000);
    expect(process.memoryUsage().rss - before).toBeLessThan(64 * 2 ** 20);
  });

  it('bounds a version 1 bundle (no sizes recorded) by its weights manifest', async () => {
    const dir = await bundleDir('v1', (m) => {
      m.version = 1;
      delete m.labelSet;
      for (const k of Object.keys(m.files)) m.files[k] = m.files[k].sha256;
    });
    expect((await readBundleDir(dir)).metadata.version).toBe(1);
    await truncate(path.join(dir, SHARD), 8 * 2 ** 30);
    await expect(readBundleDir(dir)).rejects.toThrow(`${SHARD} is too large: it has 8589934592 bytes, more than the ${files.get(SHARD)!.length} model.json's weights manifest allows`);
  });

  it('refuses a shard that is a link (to /dev/zero, or to a file outside the folder)', async () => {
    const dir = await bundleDir('link');
    await rm(path.join(dir, SHARD));
    await symlink('/dev/zero', path.join(dir, SHARD));
    await expect(readBundleDir(dir)).rejects.toThrow(`cannot read ${SHARD} (${path.join(dir, SHARD)} is a symbolic link; a bundle's files are regular files inside its folder)`);
    await rm(path.join(dir, SHARD));
    await mkdir(path.join(tmp.dir, 'outside'), { recursive: true });
    await cp(path.join(tmp.dir, 'ok', SHARD), path.join(tmp.dir, 'outside', SHARD));
    await symlink(path.join(tmp.dir, 'outside', SHARD), path.join(dir, SHARD));
    await expect(readBundleDir(dir)).rejects.toThrow(/is a symbolic link/);
  });

  it('names a missing file', async () => {
    const dir = await bundleDir('missing');
    await rm(path.join(dir, SHARD));
    await expect(readBundleDir(dir)).rejects.toThrow(`${dir}: ${SHARD} is missing: no such file in ${dir}.`);
    await expect(readBundleDir(path.join(tmp.dir, 'nowhere'))).rejects.toThrow(`moa-lens.json is missing: no such file in ${path.join(tmp.dir, 'nowhere')}.`);
  });
});
