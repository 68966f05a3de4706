import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import { buildMcnn } from '../../src/core/mcnn.ts';
import { MOA_CLASSES } from '../../src/core/labels.ts';
import { DEFAULT_PREPROCESS } from '../../src/core/preprocess.ts';
import { bundleInMemory, bundleIOHandler, loadBundle, sha256Hex, writeBundleFiles, type BundleMetadataInput } from '../../src/core/bundle.ts';
import { bundleFileNameProblem, METADATA_FILE, MODEL_FILE, SIGNATURE_FILE, type OpenBundleFile } from '../../src/core/bundle-format.ts';
import { NO_TRUST, parseTrustRoots, signingKeyFromPem, toBase64, verifyEd25519, type SigningKey, type TrustRoots } from '../../src/core/bundle-trust.ts';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { OOD_METHOD } from '../../src/core/bundle-format.ts';
import { encodeOodStats, fitOod, oodScore } from '../../src/core/ood.ts';

await tf.setBackend('cpu');

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const SHARD = 'group1-shard1of1.bin';

/** moa-lens.json of the 64x128 x0.25 test model (float32, binning 4). */
function testMetadata(name: string, model: tfl.LayersModel): BundleMetadataInput {
  return {
    name,
    createdAt: '2026-01-01T00:00:00Z',
    classes: [...MOA_CLASSES],
    input: { height: 64, width: 128, channels: 3 },
    preprocessing: { ...DEFAULT_PREPROCESS, binning: 4 },
    tiling: { minOverlap: 0 },
    architecture: { name: 'M-CNN', widthMultiplier: 0.25, parameters: model.countParams() },
    weights: { dtype: 'float32', bytes: model.countParams() * 4 },
    provenance: { trained: false, summary: 'random weights for a test' },
  };
}

async function makeBundle(signer?: SigningKey) {
  const model = buildMcnn({ height: 64, width: 128, widthMultiplier: 0.25, seed: 5 });
  let artifacts: tf.io.ModelArtifacts | undefined;
  await model.save({ save: async (a) => ((artifacts = a), { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } }) });
  const files = await writeBundleFiles(artifacts!, testMetadata('test', model), signer);
  return { model, files };
}

const load = (files: Map<string, Uint8Array>, trust: TrustRoots = NO_TRUST) => loadBundle(bundleInMemory(files), { label: 'b', trust });
const metadataOf = (files: Map<string, Uint8Array>) => JSON.parse(decoder.decode(files.get(METADATA_FILE)));
/** The same files with moa-lens.json replaced by `m` (everything else, the signature included, kept). */
const withMetadata = (files: Map<string, Uint8Array>, m: object) => new Map([...files, [METADATA_FILE, encoder.encode(JSON.stringify(m))]]);

/** The same bundle with model.json edited and its hash and size rewritten in moa-lens.json, as a forger would. */
async function withModelJson(files: Map<string, Uint8Array>, edit: (modelJson: { weightsManifest: { paths: string[] }[] }) => void) {
  const modelJson = JSON.parse(decoder.decode(files.get(MODEL_FILE)));
  edit(modelJson);
  const bytes = encoder.encode(JSON.stringify(modelJson));
  const m = metadataOf(files);
  m.files[MODEL_FILE] = { sha256: await sha256Hex(bytes), bytes: bytes.length };
  return withMetadata(new Map([...files, [MODEL_FILE, bytes]]), m);
}

/** A source that records what was opened and read, and fails the test if a file is read past its bound. */
function watched(files: Map<string, Uint8Array>, sizes: Record<string, number> = {}) {
  const opened: string[] = [];
  const reads: { name: string; max: number }[] = [];
  const inner = bundleInMemory(files);
  const open: OpenBundleFile = async (name) => {
    opened.push(name);
    const file = await inner(name);
    return { size: name in sizes ? sizes[name] : file.size, read: (max) => (reads.push({ name, max }), file.read(max)) };
  };
  return { open, opened, reads };
}

function testKey(): Promise<SigningKey> {
  return signingKeyFromPem(generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }) as string);
}

describe('model bundle', () => {
  it('hashes with sha256 like node:crypto', async () => {
    const bytes = encoder.encode('MoA Lens');
    expect(await sha256Hex(bytes)).toBe(createHash('sha256').update(bytes).digest('hex'));
  });

  it('round-trips: written files (format 2: sha256 and size of each file, label set) load, verify and predict the same', async () => {
    const { model, files } = await makeBundle();
    const m = metadataOf(files);
    expect(m.version).toBe(2);
    expect(m.labelSet).toBe('bbbc021-moa');
    expect(m.files[SHARD]).toEqual({ sha256: await sha256Hex(files.get(SHARD)!), bytes: files.get(SHARD)!.length });
    const bundle = await load(files);
    expect(bundle.metadata.classes).toEqual([...MOA_CLASSES]);
    expect(bundle.hash).toBe(createHash('sha256').update(files.get(METADATA_FILE)!).digest('hex'));
    const loaded = await tfl.loadLayersModel(bundleIOHandler(bundle));
    const x = tf.randomUniform([1, 64, 128, 3], 0, 1, 'float32', 1);
    const a = (model.predict(x) as tf.Tensor).dataSync();
    const b = (loaded.predict(x) as tf.Tensor).dataSync();
    expect(Array.from(b)).toEqual(Array.from(a));
  });

  it('refuses a tampered weight shard, naming the file', async () => {
    const { files } = await makeBundle();
    const bad = files.get(SHARD)!.slice();
    bad[100] ^= 1;
    files.set(SHARD, bad);
    await expect(load(files)).rejects.toThrow(new RegExp(`${SHARD} does not match the sha256`));
  });

  it('refuses a wrong version, a missing file and a shape mismatch', async () => {
    const { files } = await makeBundle();
    const meta = metadataOf(files);
    await expect(load(withMetadata(files, { ...meta, version: 99 }))).rejects.toThrow(/version 99 is not supported/);
    await expect(load(withMetadata(files, { ...meta, input: { height: 128, width: 128, channels: 3 } }))).rejects.toThrow(/model takes input \[64,128,3\]/);
    await expect(load(withMetadata(files, { ...meta, labelSet: 'custom', classes: ['a', 'b'] }))).rejects.toThrow(/13 outputs but moa-lens.json names 2 classes/);
    const missing = new Map(files);
    missing.delete(MODEL_FILE);
    await expect(load(missing)).rejects.toThrow('b: model.json is missing: not among the bundle files.');
    await expect(load(new Map())).rejects.toThrow('b: moa-lens.json is missing: not among the bundle files.');
  });
});

describe('the OOD check and pixel size: an optional section, its statistics a verified file of their own', () => {
  const OOD_FILE = 'ood-stats.bin';
  async function makeOodBundle() {
    const model = buildMcnn({ height: 64, width: 128, widthMultiplier: 0.25, seed: 5 });
    let artifacts: tf.io.ModelArtifacts | undefined;
    await model.save({ save: async (a) => ((artifacts = a), { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } }) });
    const d = 128 + 19; // the 512-wide dense layer at width x0.25, then 6 input statistics per channel and the padding
    let seed = 1;
    const rand = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
    const fit = fitOod(Array.from({ length: 60 }, (_, i) => ({ features: Float32Array.from({ length: d }, rand), label: i % 4 })));
    const stats = encodeOodStats(fit.stats);
    const files = await writeBundleFiles(
      artifacts!,
      {
        ...testMetadata('ood test', model),
        ood: {
          method: OOD_METHOD, file: OOD_FILE, featureSize: d, inputStatistics: 19, classes: fit.stats.classes, threshold: 1.5, passFraction: 0.95, shrinkage: fit.shrinkage,
          fitOn: { data: 'memory', split: 'test', trainingFields: 60, heldOutFields: 20, heldOutPassed: 19 },
        },
        pixelSize: { micrometres: 0.32, binning: 4, source: 'a test' },
      },
      undefined,
      new Map([[OOD_FILE, stats]]),
    );
    return { files, fit };
  }

  it('writes the statistics file with its sha256 and size, and loads them back as the check with its threshold', async () => {
    const { files, fit } = await makeOodBundle();
    const m = metadataOf(files);
    expect(m.files[OOD_FILE]).toEqual({ sha256: await sha256Hex(files.get(OOD_FILE)!), bytes: 4 * (147 * 147 + 4 * 147) });
    const bundle = await load(files);
    expect(bundle.ood?.threshold).toBe(1.5);
    expect(bundle.ood?.classes).toEqual([0, 1, 2, 3]);
    const x = Float32Array.from({ length: 147 }, (_, i) => (i % 7) / 7);
    expect(oodScore(bundle.ood!, x)).toBeCloseTo(oodScore(fit.stats, x), 4);
    expect(bundle.metadata.pixelSize).toEqual({ micrometres: 0.32, binning: 4, source: 'a test' });
    // A bundle without the section loads without a check.
    expect((await load((await makeBundle()).files)).ood).toBeUndefined();
  });

  it('refuses tampered, missing, mis-sized or unlisted statistics, and a section that does not fit the model', async () => {
    const { files } = await makeOodBundle();
    const bad = files.get(OOD_FILE)!.slice();
    bad[40] ^= 1;
    await expect(load(new Map([...files, [OOD_FILE, bad]]))).rejects.toThrow(`b: ${OOD_FILE} does not match the sha256 recorded in moa-lens.json`);
    const missing = new Map(files);
    missing.delete(OOD_FILE);
    await expect(load(missing)).rejects.toThrow(`b: ${OOD_FILE} is missing`);
    const m = metadataOf(files);
    await expect(load(withMetadata(files, { ...m, ood: { ...m.ood, featureSize: 64 } }))).rejects.toThrow(/must hold 17408 bytes for 64 features and 4 class means/);
    const unlisted = { ...m, files: Object.fromEntries(Object.entries(m.files).filter(([k]) => k !== OOD_FILE)) };
    await expect(load(withMetadata(files, unlisted))).rejects.toThrow(`ood.file ${OOD_FILE} is not among the files moa-lens.json lists`);
    await expect(load(withMetadata(files, { ...m, ood: { ...m.ood, threshold: -1 } }))).rejects.toThrow(/ood.threshold must be a positive number/);
    await expect(load(withMetadata(files, { ...m, ood: { ...m.ood, classes: [0, 1, 2, 13] } }))).rejects.toThrow(/distinct class indices below 13/);
    await expect(load(withMetadata(files, { ...m, ood: { ...m.ood, method: 'knn' } }))).rejects.toThrow(/ood.method must be/);
    await expect(load(withMetadata(files, { ...m, ood: { ...m.ood, inputStatistics: 9 } }))).rejects.toThrow(/ood.inputStatistics must be 19/);
    await expect(load(withMetadata(files, { ...m, pixelSize: { ...m.pixelSize, binning: 2 } }))).rejects.toThrow(/pixelSize.binning \(2\) must equal preprocessing.binning \(4\)/);
    // Without the section the file is one moa-lens.json lists that nothing uses.
    const { ood: _, ...withoutSection } = m;
    await expect(load(withMetadata(files, withoutSection))).rejects.toThrow(`lists ${OOD_FILE}, which model.json does not use`);
  });
});

describe('bundle file names: plain names inside the bundle folder, one rule', () => {
  it('accepts TF.js shard names and refuses separators, "..", absolute paths and hidden files', () => {
    for (const ok of ['model.json', 'group1-shard1of12.bin', 'weights_2.bin']) expect(bundleFileNameProblem(ok)).toBeUndefined();
    for (const bad of ['../orig/group1-shard1of1.bin', '../../../../dev/zero', '/dev/zero', 'a/b.bin', 'a\\b.bin', 'C:\\w.bin', '..', '.', '.hidden', 'a..b', '', 'x'.repeat(300)])
      expect(bundleFileNameProblem(bad), bad).toMatch(/not a plain file name inside the bundle folder/);
  });

  it('refuses a moa-lens.json naming a file outside the folder before opening anything but moa-lens.json', async () => {
    const { files } = await makeBundle();
    for (const name of ['../orig/group1-shard1of1.bin', '../../../../dev/zero', '/etc/passwd']) {
      const m = metadataOf(files);
      m.files[name] = m.files[SHARD];
      delete m.files[SHARD];
      const source = watched(withMetadata(files, m));
      await expect(loadBundle(source.open, { label: 'b', trust: NO_TRUST })).rejects.toThrow(`"${name}" is not a plain file name inside the bundle folder`);
      expect(source.opened).toEqual([METADATA_FILE]);
    }
  });

  it('refuses a weights manifest naming a file outside the folder, though its hashes were rewritten to match', async () => {
    const { files } = await makeBundle();
    const forged = await withModelJson(files, (j) => (j.weightsManifest[0].paths = ['../orig/group1-shard1of1.bin']));
    const source = watched(forged);
    await expect(loadBundle(source.open, { label: 'b', trust: NO_TRUST })).rejects.toThrow(/model.json names a weight file "..\/orig\/group1-shard1of1.bin" is not a plain file name/);
    expect(source.opened).not.toContain('../orig/group1-shard1of1.bin');
  });
});

describe('bundle file sizes: checked against the bundle before reading', () => {
  it('refuses a file whose size differs from moa-lens.json without reading it', async () => {
    const { files } = await makeBundle();
    const recorded = files.get(SHARD)!.length;
    const source = watched(files, { [SHARD]: 8 * 2 ** 30 });
    await expect(loadBundle(source.open, { label: 'b', trust: NO_TRUST })).rejects.toThrow(
      `b: ${SHARD} is missing or not the bundle's file: it has 8589934592 bytes where moa-lens.json records ${recorded}.`,
    );
    expect(source.reads.map((r) => r.name)).not.toContain(SHARD);
  });

  it('reads a file of unknown size with a bound and refuses it when it runs past', async () => {
    const { files } = await makeBundle();
    const recorded = files.get(SHARD)!.length;
    const longer = new Uint8Array(recorded + 1000);
    const source = watched(new Map([...files, [SHARD, longer]]), { [SHARD]: undefined as unknown as number });
    await expect(loadBundle(source.open, { label: 'b', trust: NO_TRUST })).rejects.toThrow(`${SHARD} is missing or not the bundle's file: it has more than ${recorded} bytes where moa-lens.json records ${recorded}`);
    expect(source.reads.find((r) => r.name === SHARD)?.max).toBe(recorded);
  });

  it('refuses recorded sizes that do not add up to the weights manifest before reading any shard', async () => {
    const { files } = await makeBundle();
    const m = metadataOf(files);
    m.files[SHARD].bytes += 4;
    const source = watched(withMetadata(files, m));
    await expect(loadBundle(source.open, { label: 'b', trust: NO_TRUST })).rejects.toThrow(/the weight files hold \d+ bytes by moa-lens.json but the manifest's shapes need/);
    expect(source.opened).not.toContain(SHARD);
  });

  it('reads a version 1 bundle (hashes only), bounding each shard by what the weights manifest leaves', async () => {
    const { files } = await makeBundle();
    const m = metadataOf(files);
    const v1 = { ...m, version: 1, files: Object.fromEntries(Object.entries(m.files as Record<string, { sha256: string }>).map(([k, v]) => [k, v.sha256])) };
    delete v1.labelSet;
    const bundle = await load(withMetadata(files, v1));
    expect(bundle.metadata.version).toBe(1);
    expect(bundle.metadata.labelSet).toBe('bbbc021-moa');
    const needed = files.get(SHARD)!.length;
    const source = watched(withMetadata(files, v1), { [SHARD]: 2 ** 40 });
    await expect(loadBundle(source.open, { label: 'b', trust: NO_TRUST })).rejects.toThrow(`${SHARD} is too large: it has 1099511627776 bytes, more than the ${needed} model.json's weights manifest allows`);
    expect(source.reads.map((r) => r.name)).not.toContain(SHARD);
  });
});

describe('what moa-lens.json means', () => {
  const refuses = async (edit: (m: Record<string, any>) => void, message: RegExp | string) => {
    const { files } = await makeBundle();
    const m = metadataOf(files);
    edit(m);
    await expect(load(withMetadata(files, m))).rejects.toThrow(message);
  };

  it('refuses classes that are not the BBBC021 label set in its order: swapped, renamed, missing', async () => {
    await refuses((m) => ([m.classes[0], m.classes[1]] = [m.classes[1], m.classes[0]]), 'class 0 is "Aurora kinase inhibitors" where the BBBC021 MoA label set (src/core/labels.ts) has "Actin disruptors"');
    await refuses((m) => (m.classes[3] = 'DNA damages'), /class 3 is "DNA damages"/);
    await refuses((m) => m.classes.pop(), /it names 12 classes; the BBBC021 MoA label set has 13/);
    await refuses((m) => (m.labelSet = 'mine'), /labelSet must be "bbbc021-moa" or "custom"/);
  });

  it('takes a declared custom label set of unique names', async () => {
    const { files } = await makeBundle();
    const m = metadataOf(files);
    m.labelSet = 'custom';
    m.classes = m.classes.map((c: string) => `${c} (mine)`);
    expect((await load(withMetadata(files, m))).metadata.classes[0]).toBe('Actin disruptors (mine)');
    await refuses((x) => ((x.labelSet = 'custom'), (x.classes[1] = x.classes[0])), /names a class twice/);
  });

  it('refuses preprocessing values out of range and inputs M-CNN cannot take', async () => {
    await refuses((m) => (m.preprocessing.binning = 0), /binning must be a positive integer, got 0/);
    await refuses((m) => (m.preprocessing.binning = 2.5), /binning must be a positive integer, got 2.5/);
    await refuses((m) => (m.preprocessing.normalisation = { method: 'percentile', low: 99, high: 1 }), /0 <= low < high <= 100, got 99, 1/);
    await refuses((m) => (m.preprocessing.normalisation = { method: 'percentile', low: -1, high: 101 }), /0 <= low < high <= 100/);
    await refuses((m) => (m.preprocessing.normalisation = { method: 'affine', offset: [0, 0, 0], scale: [1, 0, 1] }), /non-zero scales/);
    await refuses((m) => (m.preprocessing.channels = ['DNA', 'DNA', 'Actin']), /names a channel twice/);
    await refuses((m) => (m.preprocessing.channels = ['DNA', 'Tubulin', 'GFP']), /"GFP" is not one of DNA, Tubulin, Actin/);
    await refuses((m) => (m.input = { height: 100, width: 128, channels: 3 }), /M-CNN cannot take a 100x128 input/);
    await refuses((m) => (m.input.channels = 2), /the input has 2 channels but the preprocessing names 3/);
    await refuses((m) => (m.tiling.minOverlap = 64), /tiling.minOverlap must be a whole number of pixels below the input size/);
    await refuses((m) => (m.weights.bytes = 12), /says the weights take 12 bytes but the manifest's shapes need/);
    await refuses((m) => (m.files[SHARD].sha256 = 'abc'), /the sha256 of group1-shard1of1.bin is not 64 hex digits/);
  });
});

describe('bundle trust: shipped, signed, unverified', () => {
  it('is shipped when the build pins the sha256 of its moa-lens.json, and unverified once moa-lens.json changes (binning 4 -> 2)', async () => {
    const { files } = await makeBundle();
    const hash = await sha256Hex(files.get(METADATA_FILE)!);
    const roots = parseTrustRoots({ shipped: { test: hash } }, { keys: [] });
    expect((await load(files, roots)).trust).toEqual({ status: 'shipped', detail: 'shipped with this build as "test" (its moa-lens.json is pinned in models/index.json)' });
    const m = metadataOf(files);
    m.preprocessing.binning = 2;
    const tampered = await load(withMetadata(files, m), roots);
    expect(tampered.metadata.preprocessing.binning).toBe(2);
    expect(tampered.trust).toEqual({ status: 'unverified', detail: 'not shipped with this build and not signed (no moa-lens.sig.json)' });
  });

  it('round-trips a signature: signed at export, verified with a trusted key; another key or a changed moa-lens.json is unverified', async () => {
    const key = await testKey();
    const { files } = await makeBundle(key);
    expect(JSON.parse(decoder.decode(files.get(SIGNATURE_FILE)))).toMatchObject({ format: 'moa-lens-signature', algorithm: 'Ed25519', publicKey: key.publicKey });
    const trusting = (k: SigningKey) => parseTrustRoots({}, { keys: [{ id: 'release', publicKey: k.publicKey }] });
    expect((await load(files, trusting(key))).trust).toMatchObject({ status: 'signed', detail: expect.stringMatching(/^signed by "release" \(key [0-9a-f]{16}\), a key this build trusts$/) });
    expect((await load(files, trusting(await testKey()))).trust).toMatchObject({ status: 'unverified', detail: expect.stringMatching(/^signed by key [0-9a-f]{16}, which this build does not trust/) });
    expect((await load(files, NO_TRUST)).trust.status).toBe('unverified');
    const m = metadataOf(files);
    [m.classes[0], m.classes[1]] = [m.classes[1], m.classes[0]];
    m.labelSet = 'custom';
    expect((await load(withMetadata(files, m), trusting(key))).trust).toEqual({ status: 'unverified', detail: 'its signature by "release" does not match moa-lens.json: the bundle was changed after it was signed' });
    const garbled = new Map([...files, [SIGNATURE_FILE, encoder.encode('{"format":"moa-lens-signature"}')]]);
    expect((await load(garbled, trusting(key))).trust.detail).toBe('its moa-lens.sig.json is not an Ed25519 signature file this app reads');
  });

  it('refuses a signing key that is not an unencrypted PKCS #8 Ed25519 key, and bad trust roots', async () => {
    await expect(signingKeyFromPem('hello')).rejects.toThrow(/not a PEM file/);
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    await expect(signingKeyFromPem(rsa)).rejects.toThrow(/not an Ed25519 private key/);
    await expect(signingKeyFromPem('-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----')).rejects.toThrow(/expected an unencrypted PKCS #8/);
    expect(() => parseTrustRoots({ shipped: { x: 'nope' } }, {})).toThrow(/pin of "x" is not a sha256/);
    expect(() => parseTrustRoots({}, { keys: [{ id: 'k', publicKey: 'AAAA' }] })).toThrow(/32-byte Ed25519 publicKey/);
  });

  it('verifies the RFC 8032 Ed25519 test vectors 1 and 2 (and not a changed message)', async () => {
    const hex = (h: string) => Uint8Array.from(h.match(/../g) ?? [], (b) => parseInt(b, 16));
    const vectors = [
      ['d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a', '', 'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b'],
      ['3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c', '72', '92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00'],
    ];
    for (const [pk, msg, sig] of vectors) {
      expect(await verifyEd25519(hex(pk), hex(sig), hex(msg))).toBe(true);
      expect(await verifyEd25519(hex(pk), hex(sig), hex(`${msg}00`))).toBe(false);
    }
    expect(toBase64(hex('d75a98'))).toBe('11qY');
  });
});
