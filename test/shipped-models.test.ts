// The build's root of trust: models/index.json pins each shipped bundle's moa-lens.json, models/trusted-keys.json lists signing keys.
import { createHash } from 'node:crypto';
import { cp, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { METADATA_FILE } from '../src/core/bundle-format.ts';
import { BUILD_TRUST_ROOTS } from '../src/core/trust-roots.ts';
import { readBundleDir } from '../training/src/bundle-fs.ts';
import { tempDir } from './browser/harness/server.ts';

const MODELS = path.resolve(import.meta.dirname, '../models');
const index = JSON.parse(await readFile(path.join(MODELS, 'index.json'), 'utf8')) as { default: string; shipped: Record<string, string> };

let tmp: { dir: string; cleanup: () => Promise<void> };
beforeAll(async () => {
  tmp = await tempDir('moa-lens-shipped-');
});
afterAll(() => tmp?.cleanup());

/** A copy of the shipped default bundle with its moa-lens.json edited (nothing else needs to change). */
async function tamperedCopy(name: string, edit: (m: Record<string, any>) => void): Promise<string> {
  const dir = path.join(tmp.dir, name);
  await cp(path.join(MODELS, index.default), dir, { recursive: true });
  const m = JSON.parse(await readFile(path.join(dir, METADATA_FILE), 'utf8'));
  edit(m);
  await writeFile(path.join(dir, METADATA_FILE), JSON.stringify(m, null, 1));
  return dir;
}

describe('shipped models', () => {
  it('pins the sha256 of every shipped bundle\'s moa-lens.json, the default among them', async () => {
    expect(Object.keys(index.shipped)).toContain(index.default);
    for (const [name, pin] of Object.entries(index.shipped)) {
      const actual = createHash('sha256').update(await readFile(path.join(MODELS, name, METADATA_FILE))).digest('hex');
      expect(actual, `models/index.json pins ${name} at ${pin}; its moa-lens.json is ${actual}`).toBe(pin);
    }
    expect(BUILD_TRUST_ROOTS.shipped).toEqual(index.shipped);
  });

  it('loads every shipped bundle as shipped: the default in format version 2 with its OOD check, mcnn-sim-v1 still in version 1 without one', async () => {
    for (const name of Object.keys(index.shipped)) {
      const bundle = await readBundleDir(path.join(MODELS, name));
      expect(bundle.trust).toEqual({ status: 'shipped', detail: `shipped with this build as "${name}" (its moa-lens.json is pinned in models/index.json)` });
    }
    const current = await readBundleDir(path.join(MODELS, index.default));
    expect(current.metadata.version).toBe(2);
    expect(current.ood?.threshold).toBeGreaterThan(0);
    expect(current.metadata.provenance.simulated).toBe(true);
    const first = await readBundleDir(path.join(MODELS, 'mcnn-sim-v1'));
    expect(first.metadata.version).toBe(1);
    expect(first.ood).toBeUndefined();
  });

  it('finds a changed binning (4 -> 2) unverified and refuses swapped or renamed classes', async () => {
    // pixelSize.binning must follow preprocessing.binning (else the metadata is refused outright): change both.
    const binning = await readBundleDir(await tamperedCopy('binning', (m) => (m.preprocessing.binning = m.pixelSize.binning = 2)));
    expect(binning.trust.status).toBe('unverified');
    await expect(readBundleDir(await tamperedCopy('swapped', (m) => ([m.classes[4], m.classes[5]] = [m.classes[5], m.classes[4]])))).rejects.toThrow(
      'class 4 is "Eg5 inhibitors" where the BBBC021 MoA label set (src/core/labels.ts) has "DNA replication"',
    );
    await expect(readBundleDir(await tamperedCopy('renamed', (m) => (m.classes[12] = 'Control')))).rejects.toThrow(/class 12 is "Control"/);
  });

  it('trusts only well-formed keys (models/trusted-keys.json)', async () => {
    const keys = JSON.parse(await readFile(path.join(MODELS, 'trusted-keys.json'), 'utf8')) as { keys: unknown[] };
    expect(BUILD_TRUST_ROOTS.keys).toHaveLength(keys.keys.length);
  });
});
