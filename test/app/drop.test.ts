import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { collectDrop, collectEntries, collectPicked, kindOf, probeDropped, sortDrop, type EntryLike } from '../../src/app/state/drop.ts';
import { encodeTiff8, ramp } from '../fixtures/image-files.ts';
import { REAL_TIFFS_DIR } from '../fixtures/paths.ts';

/** A fake FileSystemEntry tree: objects are folders, strings are file contents; readEntries returns `batch` at a time. */
type Tree = { [name: string]: Tree | string };

function fakeEntry(name: string, node: Tree | string, parent = '', batch = 2, failing = new Set<string>()): EntryLike {
  const fullPath = `${parent}/${name}`;
  if (typeof node === 'string') {
    return {
      isFile: true,
      isDirectory: false,
      name,
      fullPath,
      file: (ok: (f: File) => void, err?: (e: unknown) => void) =>
        failing.has(name) ? err?.(new Error('NotReadableError')) : setTimeout(() => ok(new File([node], name))),
    } as EntryLike;
  }
  const children = Object.entries(node).map(([n, v]) => fakeEntry(n, v, fullPath, batch, failing));
  return {
    isFile: false,
    isDirectory: true,
    name,
    fullPath,
    createReader: () => {
      let i = 0;
      return {
        readEntries: (ok: (e: EntryLike[]) => void, err?: (e: unknown) => void) => {
          if (failing.has(name)) return err?.(new Error('SecurityError'));
          const out = children.slice(i, i + batch);
          i += out.length;
          setTimeout(() => ok(out));
        },
      };
    },
  } as EntryLike;
}

describe('collectEntries', () => {
  it('recurses folders, reads every batch of readEntries and keeps relative paths', async () => {
    const plate: Tree = {
      Week1_22123: { 'B02_s1_w1.tif': 'a', 'B02_s1_w2.tif': 'b', 'B02_s1_w4.tif': 'c', sub: { 'x.tif': 'd', 'y.tif': 'e', 'z.tif': 'f' } },
      '.DS_Store': 'junk',
    };
    const r = await collectEntries([fakeEntry('plate', plate)]);
    expect(r.problems).toEqual([]);
    expect(r.files.map((f) => f.path)).toEqual([
      'plate/Week1_22123/B02_s1_w1.tif',
      'plate/Week1_22123/B02_s1_w2.tif',
      'plate/Week1_22123/B02_s1_w4.tif',
      'plate/Week1_22123/sub/x.tif',
      'plate/Week1_22123/sub/y.tif',
      'plate/Week1_22123/sub/z.tif',
    ]);
    expect(await r.files[3].file.text()).toBe('d');
  });

  it('reports an unreadable file or folder and keeps the rest', async () => {
    const tree: Tree = { 'good.tif': 'g', 'bad.tif': 'b', locked: { 'x.tif': 'x' } };
    const r = await collectEntries([fakeEntry('top', tree, '', 100, new Set(['bad.tif', 'locked']))]);
    expect(r.files.map((f) => f.path)).toEqual(['top/good.tif']);
    expect(r.problems.map((p) => p.path).sort()).toEqual(['top/bad.tif', 'top/locked']);
    expect(r.problems.find((p) => p.path === 'top/bad.tif')!.message).toMatch(/NotReadableError/);
  });
});

describe('collectDrop', () => {
  it('takes entries for files and folders and falls back to getAsFile; skips non-file items', async () => {
    const loose = new File(['l'], 'loose.png');
    const items = [
      { kind: 'file', webkitGetAsEntry: () => fakeEntry('one.tif', '1'), getAsFile: () => null },
      { kind: 'file', webkitGetAsEntry: () => fakeEntry('dir', { 'meta.csv': 'm' }), getAsFile: () => null },
      { kind: 'file', getAsFile: () => loose },
      { kind: 'string', getAsFile: () => null },
    ];
    const r = await collectDrop(items);
    expect(r.files.map((f) => f.path)).toEqual(['loose.png', 'one.tif', 'dir/meta.csv']);
  });
});

describe('collectPicked', () => {
  it('uses webkitRelativePath when the folder picker gives one and skips hidden files', () => {
    const a = new File(['a'], 'a.tif');
    Object.defineProperty(a, 'webkitRelativePath', { value: 'plate/a.tif' });
    const hidden = new File(['h'], '.hidden');
    const b = new File(['b'], 'b.tif');
    expect(collectPicked([a, hidden, b]).files.map((f) => f.path)).toEqual(['plate/a.tif', 'b.tif']);
  });
});

describe('sortDrop', () => {
  it('sorts by purpose and explains what is left out', () => {
    const f = (path: string) => ({ path, file: new File([''], path.split('/').pop()!) });
    const s = sortDrop([f('p/B02_s1_w1.TIF'), f('p/x.jpeg'), f('p/BBBC021_v1_image.csv'), f('p/notes.txt'), f('p/model.json')]);
    expect(s.images.map((x) => x.path)).toEqual(['p/B02_s1_w1.TIF', 'p/x.jpeg']);
    expect(s.metadata.map((x) => x.path)).toEqual(['p/BBBC021_v1_image.csv']);
    expect(s.bundle).toEqual([]);
    expect(s.ignored.map((x) => x.path)).toEqual(['p/notes.txt', 'p/model.json']);
    expect(s.ignored[1].message).toMatch(/moa-lens\.json/);
    const withBundle = sortDrop([f('m/moa-lens.json'), f('m/model.json'), f('m/group1-shard1of1.bin')]);
    expect(withBundle.bundle).toHaveLength(3);
    expect(withBundle.ignored).toEqual([]);
    expect(kindOf('a.tiff')).toBe('image');
    expect(kindOf('a.bin')).toBe('other');
  });
});

describe('probeDropped', () => {
  it('reads the channels of real files on disk, one bad file never stops the rest', async () => {
    const real = (p: string) => new File([readFileSync(join(REAL_TIFFS_DIR, p))], p.split('/').pop()!);
    const rgba = encodeTiff8({ width: 6, height: 4, pixels: ramp(6 * 4 * 4), samplesPerPixel: 4, photometric: 2, extraSamples: 2 });
    // A header that claims 100,000 x 100,000 pixels: refused with the engine's limit before the file is read whole.
    const huge = encodeTiff8({ width: 1, height: 1, pixels: ramp(1), samplesPerPixel: 1, photometric: 1 });
    new DataView(huge.buffer).setUint32(18, 100_000, true);
    new DataView(huge.buffer).setUint32(30, 100_000, true);
    const files = [
      { path: 'x/huge.tif', file: new File([huge], 'huge.tif') },
      { path: 'x/one.tif', file: real('cellprofiler-examples/ExampleHuman/AS_09125_050116030001_D03f00d0.tif') },
      { path: 'x/broken.tif', file: new File(['II*\0garbage'], 'broken.tif') },
      { path: 'x/rgba.tif', file: new File([rgba], 'rgba.tif') },
      { path: 'x/palette.tif', file: real('codecs/shapes_lzw_palette.tif') },
    ];
    const seen: number[] = [];
    const probes = await probeDropped(files, (done) => seen.push(done));
    expect(seen).toEqual([1, 2, 3, 4, 5]);
    expect((probes.get('x/huge.tif') as Error).message).toMatch(/"huge\.tif" is too large to open here/);
    expect(probes.get('x/one.tif')).toMatchObject({ format: 'tiff', channelNames: [undefined] });
    expect(probes.get('x/broken.tif')).toBeInstanceOf(Error);
    expect((probes.get('x/broken.tif') as Error).message).toContain('broken.tif');
    expect(probes.get('x/rgba.tif')).toMatchObject({ channelNames: ['Red', 'Green', 'Blue', 'Alpha'] });
    expect(probes.get('x/palette.tif')).toMatchObject({ channelNames: [undefined] });
  });

  it('reads a TIFF in parts, not whole: a real 726 kB ImageXpress file whose page directory follows its pixels', async () => {
    const folder = join(REAL_TIFFS_DIR, 'cellprofiler-examples/ExampleStraightenWorms');
    const name = readdirSync(folder).sort()[0];
    /** A dropped File that counts the bytes read through its slices, and reads of itself whole. */
    class CountingFile extends File {
      bytesRead = 0;
      wholeReads = 0;
      override slice(start = 0, end = this.size, type?: string): Blob {
        const from = Math.max(0, Math.min(this.size, start));
        this.bytesRead += Math.max(0, Math.min(this.size, end) - from);
        return super.slice(start, end, type);
      }
      override arrayBuffer(): Promise<ArrayBuffer> {
        this.wholeReads++;
        this.bytesRead += this.size;
        return super.arrayBuffer();
      }
    }
    const file = new CountingFile([readFileSync(join(folder, name))], name);
    const probes = await probeDropped([{ path: `worms/${name}`, file }]);
    expect(probes.get(`worms/${name}`)).toEqual({ format: 'tiff', width: 696, height: 520, channelNames: [undefined] });
    expect(file.wholeReads).toBe(0);
    expect(file.bytesRead).toBeGreaterThan(64 * 1024); // the head and the directory at the end...
    expect(file.bytesRead).toBeLessThan(100_000); // ...of 725,978 bytes
  });
});
