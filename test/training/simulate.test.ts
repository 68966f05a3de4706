import { describe, expect, it } from 'vitest';
import { decodeTiff } from '../../src/core/tiff/index.ts';
import { MOA_CLASSES } from '../../src/core/labels.ts';
import { hashString, Rng } from '../../training/src/util/prng.ts';
import { encodeTiff16, encodeTiffPages, encodeTiffPlanar } from '../../training/src/simulate/tiff-writer.ts';
import { compoundSignature, doseEffect, DMSO_PHENOTYPE, treatmentPhenotype } from '../../training/src/simulate/phenotypes.ts';
import { renderField } from '../../training/src/simulate/render-field.ts';
import { parseSimulateArgs } from '../../training/src/simulate-cli.ts';

const plane = (w: number, h: number, k: number) => ({ width: w, height: h, data: Uint16Array.from({ length: w * h }, (_, i) => (i * 131 + k * 7919) % 65536) });

describe('PRNG', () => {
  it('is deterministic per seed and differs across seeds', () => {
    const a = Array.from({ length: 5 }, ((r) => () => r.next())(new Rng(42)));
    const b = Array.from({ length: 5 }, ((r) => () => r.next())(new Rng(42)));
    const c = Array.from({ length: 5 }, ((r) => () => r.next())(new Rng(43)));
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
    expect(hashString('taxol')).toBe(hashString('taxol'));
    expect(hashString('taxol')).not.toBe(hashString('Taxol'));
  });

  it('draws normals with mean 0 and sd 1', () => {
    const r = new Rng(7);
    const xs = Array.from({ length: 20000 }, () => r.normal());
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
    const sd = Math.sqrt(xs.reduce((s, x) => s + (x - mean) ** 2, 0) / xs.length);
    expect(Math.abs(mean)).toBeLessThan(0.03);
    expect(Math.abs(sd - 1)).toBeLessThan(0.03);
  });
});

describe('TIFF writer', () => {
  it.each([
    ['uncompressed', {}],
    ['deflate', { compression: 'deflate' as const }],
    ['deflate + predictor, 7-row strips', { compression: 'deflate' as const, predictor: true, rowsPerStrip: 7 }],
  ])('round-trips a 16-bit plane through the core decoder (%s)', async (_name, options) => {
    const p = plane(53, 29, 1);
    const decoded = await decodeTiff(encodeTiff16(p, options), 'x.tif');
    expect(decoded.width).toBe(53);
    expect(decoded.height).toBe(29);
    expect(decoded.planes).toHaveLength(1);
    expect(decoded.planes[0].bitsPerSample).toBe(16);
    expect(Array.from(decoded.planes[0].data)).toEqual(Array.from(p.data));
  });

  it('writes 3-channel files as one planar page or three pages', async () => {
    const planes = [plane(20, 11, 0), plane(20, 11, 1), plane(20, 11, 2)];
    const planar = await decodeTiff(encodeTiffPlanar(planes, { compression: 'deflate' }), 'planar.tif');
    expect(planar.pageCount).toBe(1);
    expect(planar.planes.map((p) => Array.from(p.data))).toEqual(planes.map((p) => Array.from(p.data)));
    const pages = await decodeTiff(encodeTiffPages(planes, { pageNames: ['a', 'bb', 'ccccc'] }), 'pages.tif');
    expect(pages.planes.map((p) => p.name)).toEqual(['a', 'bb', 'ccccc']);
    expect(pages.pageCount).toBe(3);
    expect(pages.planes.map((p) => Array.from(p.data))).toEqual(planes.map((p) => Array.from(p.data)));
  });

  it('rejects planes whose data does not match their size', () => {
    expect(() => encodeTiff16({ width: 4, height: 4, data: new Uint16Array(15) })).toThrow(/expected 16/);
    expect(() => encodeTiffPlanar([plane(4, 4, 0), plane(5, 4, 0)])).toThrow(/differ in size/);
  });
});

describe('phenotypes', () => {
  it('moves parameters with dose (Hill curve) and per compound', () => {
    const sig = compoundSignature('AZ138', 'Eg5 inhibitors', [0.03, 0.1, 0.3, 1, 3]);
    const effects = [0.001, 0.03, 0.3, 3, 300].map((c) => doseEffect(sig, c));
    for (let i = 1; i < effects.length; i++) expect(effects[i]).toBeGreaterThan(effects[i - 1]);
    expect(treatmentPhenotype(sig, 3).mitoticFraction).toBeGreaterThan(DMSO_PHENOTYPE.mitoticFraction * 3);
    expect(treatmentPhenotype(sig, 1e-6).mitoticFraction).toBeCloseTo(DMSO_PHENOTYPE.mitoticFraction, 2);
    const other = compoundSignature('AZ-C', 'Eg5 inhibitors', [0.03, 0.1, 0.3, 1, 3]);
    expect(other.maxEffect).not.toBe(sig.maxEffect);
    expect(other.sideEffects).not.toEqual(sig.sideEffects);
  });

  it('departs from the class template by the compound diversity: 1 as always, 0 the class effect alone', () => {
    const doses = [0.03, 0.1, 0.3, 1, 3];
    const full = compoundSignature('AZ138', 'Eg5 inhibitors', doses, 5);
    expect(compoundSignature('AZ138', 'Eg5 inhibitors', doses, 5, 1)).toEqual(full);
    const template = compoundSignature('AZ138', 'Eg5 inhibitors', doses, 5, 0);
    expect(Object.values(template.emphasis).every((w) => w === 1)).toBe(true);
    expect(Object.values(template.sideEffects).every((v) => v === 0)).toBe(true);
    expect(template.offTargetShare).toBe(0);
    expect(full.offTargetShare).toBeGreaterThan(0);
    // Dose response and toxicity are the compound's own at every diversity.
    expect({ ...template, emphasis: {}, sideEffects: {}, offTargetShare: 0 }).toEqual({ ...full, emphasis: {}, sideEffects: {}, offTargetShare: 0 });
    const half = compoundSignature('AZ138', 'Eg5 inhibitors', doses, 5, 0.5);
    const key = Object.keys(full.emphasis)[0] as keyof typeof full.emphasis;
    expect(half.emphasis[key]).toBeCloseTo(1 + 0.5 * ((full.emphasis[key] as number) - 1), 12);
    expect(() => compoundSignature('AZ138', 'Eg5 inhibitors', doses, 5, 1.5)).toThrow(/diversity must lie in \[0, 1\]/);
  });

  it('gives each class its own direction', () => {
    const strong = (moa: (typeof MOA_CLASSES)[number]) => {
      const s = compoundSignature(`test-${moa}`, moa, [1]);
      s.sideEffects = {};
      return treatmentPhenotype({ ...s, maxEffect: 1, emphasis: {} }, 1e6);
    };
    expect(strong('Microtubule destabilizers').tubulinFilaments).toBeLessThan(0.2);
    expect(strong('Microtubule stabilizers').tubulinBundling).toBeGreaterThan(1);
    expect(strong('Eg5 inhibitors').monopolarShare).toBeGreaterThan(0.9);
    expect(strong('Aurora kinase inhibitors').multinucleateFraction).toBeGreaterThan(0.5);
    expect(strong('Actin disruptors').stressFibres).toBeLessThan(0.2);
    expect(strong('DNA damage').nucleusRadius).toBeGreaterThan(DMSO_PHENOTYPE.nucleusRadius);
    expect(strong('Protein synthesis').cellRadius).toBeLessThan(DMSO_PHENOTYPE.cellRadius);
    expect(strong('Epithelial').clustering).toBeGreaterThan(0.9);
  });
});

describe('field renderer', () => {
  it('is deterministic from the seed, 16-bit with a realistic range', () => {
    const a = renderField({ ...DMSO_PHENOTYPE }, { height: 128, width: 160, seed: 5 });
    const b = renderField({ ...DMSO_PHENOTYPE }, { height: 128, width: 160, seed: 5 });
    const c = renderField({ ...DMSO_PHENOTYPE }, { height: 128, width: 160, seed: 6 });
    expect(a.planes[0]).toEqual(b.planes[0]);
    expect(a.planes[0]).not.toEqual(c.planes[0]);
    for (const p of a.planes) {
      expect(p).toBeInstanceOf(Uint16Array);
      expect(p.length).toBe(128 * 160);
      const sorted = Array.from(p).sort((x, y) => x - y);
      expect(sorted[Math.floor(p.length * 0.05)]).toBeGreaterThan(100); // camera offset + background
      expect(sorted[Math.floor(p.length * 0.05)]).toBeLessThan(1000);
      expect(sorted[p.length - 1]).toBeGreaterThan(1500); // stained structures well above background
      expect(sorted[p.length - 1]).toBeLessThan(65535);
    }
    expect(a.cellCount).toBeGreaterThan(50);
  });

  it('renders a full 1024x1280 field', () => {
    const f = renderField({ ...DMSO_PHENOTYPE }, { height: 1024, width: 1280, seed: 1 });
    expect(f.planes[2].length).toBe(1024 * 1280);
  });

  it('lowers cell count and DNA signal when density drops (toxicity)', () => {
    const mean = (p: Uint16Array) => p.reduce((s, v) => s + v, 0) / p.length;
    const dmso = renderField({ ...DMSO_PHENOTYPE }, { height: 96, width: 120, seed: 9 });
    const sparse = renderField({ ...DMSO_PHENOTYPE, density: 30 }, { height: 96, width: 120, seed: 9 });
    expect(sparse.cellCount).toBeLessThan(dmso.cellCount / 2);
    expect(mean(sparse.planes[0])).toBeLessThan(mean(dmso.planes[0]));
  });
});

describe('simulate CLI arguments', () => {
  it('parses flags and names bad ones', () => {
    const o = parseSimulateArgs(['--out', '/tmp/x', '--size', '64x80', '--plates', 'Week1_22123,Week2_24121', '--fields-per-treatment', '2', '--seed', '3']);
    expect(o).toMatchObject({ out: '/tmp/x', height: 64, width: 80, plates: ['Week1_22123', 'Week2_24121'], fieldsPerTreatment: 2, seed: 3 });
    expect(() => parseSimulateArgs(['--size', '64x80'])).toThrow(/--out/);
    expect(() => parseSimulateArgs(['--out', 'x', '--size', '64'])).toThrow(/--size/);
    expect(() => parseSimulateArgs(['--out', 'x', '--fields-per-treatment', '0'])).toThrow(/positive integer/);
    expect(() => parseSimulateArgs(['--out', 'x', '--bogus', '1'])).toThrow(/Unknown flag --bogus/);
    expect(() => parseSimulateArgs(['--out'])).toThrow(/needs a value/);
    expect(parseSimulateArgs(['--help'])).toBe('help');
    expect(parseSimulateArgs(['--realism-report'])).toMatchObject({ realismReport: true, reportFields: 24, out: '' });
    expect(parseSimulateArgs(['--realism-report', '--fields', '6', '--seed', '2'])).toMatchObject({ realismReport: true, reportFields: 6, seed: 2 });
    expect(() => parseSimulateArgs(['--realism-report', '--fields', '0'])).toThrow(/positive integer/);
  });
});
