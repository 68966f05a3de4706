// The clone stands alone: no tracked file reaches outside the repository for data (the BBBC021 metadata
// and the real TIFF corpus are vendored), and the vendored folders carry their licence and source.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { BBBC021_METADATA_DIR, REAL_TIFFS_DIR } from './fixtures/paths.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
const SELF = path.relative(ROOT, import.meta.filename).split(path.sep).join('/');

/** The folder a development machine keeps beside the clone; the name is assembled so this file does not match itself. */
const BESIDE = ['sha', 'red'].join('');
const DATASETS = '(?:bbbc021|real-tiffs)';

/** References to data beside the clone (the folder next to it, or the development machine's copy). */
const OUTSIDE: RegExp[] = [
  new RegExp(`\\.\\.[/\\\\]${BESIDE}\\b`), // <up>/<folder>, <up>\<folder>
  new RegExp(`\\b${BESIDE}[/\\\\]${DATASETS}\\b`), // <folder>/bbbc021, /<folder>/real-tiffs, ...
  new RegExp(`['"]\\.\\.['"]\\s*,\\s*['"]${BESIDE}['"]`), // path.join(root, <up>, <folder>, ...)
  new RegExp(`['"]${BESIDE}['"]\\s*,\\s*['"]${DATASETS}['"]`), // path.join(..., <folder>, 'bbbc021')
  new RegExp(`/work/${BESIDE}\\b`),
];

/** Like git's own test: a NUL byte in the first 8000 bytes makes a file binary. */
function isBinary(bytes: Buffer): boolean {
  return bytes.subarray(0, 8000).includes(0);
}

const isGitCheckout = fs.existsSync(path.join(ROOT, '.git'));

describe('the clone stands alone', () => {
  test.skipIf(!isGitCheckout)('no tracked file but this one refers to the folder beside the clone or its datasets', () => {
    const tracked = execFileSync('git', ['ls-files', '-z'], { cwd: ROOT, encoding: 'utf8', maxBuffer: 64 << 20 }).split('\0').filter(Boolean);
    expect(tracked.length).toBeGreaterThan(100);
    const hits: string[] = [];
    let scanned = 0;
    for (const rel of tracked) {
      if (rel === SELF) continue;
      const file = path.join(ROOT, rel);
      if (!fs.statSync(file, { throwIfNoEntry: false })?.isFile()) continue; // deleted in the work tree, or a submodule
      const bytes = fs.readFileSync(file);
      if (isBinary(bytes)) continue;
      scanned++;
      bytes.toString('utf8').split('\n').forEach((line, i) => {
        if (OUTSIDE.some((re) => re.test(line))) hits.push(`${rel}:${i + 1}: ${line.trim().slice(0, 160)}`);
      });
    }
    expect(scanned).toBeGreaterThan(100);
    expect(hits, `files that read data from beside the repository (use BBBC021_METADATA_DIR / REAL_TIFFS_DIR):\n${hits.join('\n')}`).toEqual([]);
  });

  test('the patterns catch the forms they are meant to', () => {
    const caught = (s: string) => OUTSIDE.some((re) => re.test(s));
    const up = '..';
    const forms = [
      `path.resolve(repoRoot, '${up}/${BESIDE}/bbbc021')`,
      `new URL('${up}/${up}/${up}/${BESIDE}/bbbc021', import.meta.url)`,
      `path.resolve(repoRoot, '${up}', '${BESIDE}', 'bbbc021')`,
      `default \`${up}/${BESIDE}/bbbc021\``,
      `--data /${BESIDE}/bbbc021`,
      `/work/${BESIDE}/real-tiffs`,
    ];
    for (const s of forms) {
      expect(caught(s), s).toBe(true);
    }
    for (const s of ['shared by the app and the trainer', 'a shared pool', '-shared', 'training/data/bbbc021', 'test/fixtures/real-tiffs']) {
      expect(caught(s), s).toBe(false);
    }
  });

  test('the vendored data lies inside the repository with its licence, source and README', () => {
    const folders = [BBBC021_METADATA_DIR, ...['cellprofiler-examples', 'codecs', 'ome'].map((f) => path.join(REAL_TIFFS_DIR, f))];
    for (const dir of [BBBC021_METADATA_DIR, REAL_TIFFS_DIR]) {
      expect(path.relative(ROOT, dir).startsWith('..'), dir).toBe(false);
      expect(fs.existsSync(path.join(dir, 'README.md')), `${dir}/README.md`).toBe(true);
    }
    for (const dir of folders) {
      const names = fs.readdirSync(dir);
      expect(names.some((n) => n.startsWith('LICENSE')), `${dir}: a LICENSE file`).toBe(true);
      expect(names, `${dir}: a SOURCE file`).toContain('SOURCE');
    }
    expect(fs.readdirSync(BBBC021_METADATA_DIR)).toEqual(expect.arrayContaining(['BBBC021_v1_image.csv', 'BBBC021_v1_moa.csv']));
  });
});
