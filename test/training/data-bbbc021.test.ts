// `npm run data:bbbc021` as a child process against a local HTTP server on 127.0.0.1 serving small plate zips with
// the real BBBC021 file names, injecting faults: a connection dropped mid-file, a 404, a 500 then success, a damaged
// zip, a slow server. The result must be the layout the trainer's --data reads.
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, open, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fieldsFromImageTable, parseImageTable, parseMoaTable } from '../../src/core/metadata.ts';
import { isMoaClass } from '../../src/core/labels.ts';
import { loadDatasetIndex } from '../../training/src/data/dataset-index.ts';
import { readZipEntries, readZipEntry } from '../../training/src/data/download/zip-reader.ts';
import { formatBytes } from '../../training/src/util/format.ts';
import { BBBC021_METADATA_DIR } from '../fixtures/paths.ts';
import { repoRoot, type ProcessResult } from './train-helpers.ts';
import { buildZip, plateZip, realPlateFiles } from './zip-fixture.ts';

const cliEntry = path.join(repoRoot, 'training', 'src', 'data-bbbc021-cli.ts');

function runCli(args: string[]): Promise<ProcessResult> {
  const child = spawn(process.execPath, ['--import', 'tsx', cliEntry, ...args], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

/** drop-half: half the body, then the connection closed; stall-half: half the body, then silence; stall: headers, then silence. */
type Fault = 'drop-half' | 'stall-half' | 'stall' | 'status-500';

interface Served {
  zip: string;
  range?: string;
  status: number;
  bytes: number;
}

/**
 * A mirror at http://127.0.0.1:<port>/mirror/: zips by name, faults queued per zip (one per request), optional throttle;
 * /moved/<name> redirects to /mirror/<name>.
 */
class FaultyMirror {
  readonly zips = new Map<string, Buffer>();
  readonly faults = new Map<string, Fault[]>();
  readonly log: Served[] = [];
  /** Bytes per 20 ms tick when set (a slow server). */
  throttle: number | undefined;
  private server = http.createServer((req, res) => void this.handle(req, res));

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/mirror/`;
  }

  stop(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  requestsFor(zip: string): Served[] {
    return this.log.filter((s) => s.zip === zip);
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    if (req.url?.startsWith('/moved/')) {
      this.log.push({ zip: req.url, status: 301, bytes: 0 });
      return void res.writeHead(301, { Location: req.url.replace('/moved/', '/mirror/') }).end();
    }
    const zip = decodeURIComponent((req.url ?? '').replace(/^\/mirror\//, ''));
    const range = req.headers.range;
    const served: Served = { zip, range, status: 0, bytes: 0 };
    this.log.push(served);
    const body = this.zips.get(zip);
    const fault = this.faults.get(zip)?.shift();
    if (!body) return void res.writeHead((served.status = 404)).end('not found');
    if (fault === 'status-500') return void res.writeHead((served.status = 500)).end('internal error');
    let start = 0;
    if (range) {
      start = Number(/^bytes=(\d+)-$/.exec(range)?.[1] ?? NaN);
      res.writeHead((served.status = 206), { 'Content-Length': body.length - start, 'Content-Range': `bytes ${start}-${body.length - 1}/${body.length}` });
    } else res.writeHead((served.status = 200), { 'Content-Length': body.length });
    const rest = body.subarray(start);
    if (fault === 'drop-half' || fault === 'stall-half') {
      const half = rest.subarray(0, Math.floor(rest.length / 2));
      served.bytes = half.length;
      res.write(half, () => {
        if (fault === 'drop-half') res.socket?.destroy();
      });
      return;
    }
    if (fault === 'stall') return void res.flushHeaders();
    if (this.throttle === undefined) {
      served.bytes = rest.length;
      return void res.end(rest);
    }
    for (let at = 0; at < rest.length; at += this.throttle) {
      const chunk = rest.subarray(at, at + this.throttle);
      await new Promise<void>((resolve) => res.write(chunk, () => resolve()));
      served.bytes += chunk.length;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    res.end();
  }
}

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/** Every file of the plate's zip is in its image-table folder under `root`, byte for byte. */
async function expectPlateUnpacked(root: string, plate: string, zip: Buffer): Promise<void> {
  const { dir, files } = realPlateFiles(plate);
  const scratch = await mkdtemp(path.join(os.tmpdir(), 'moa-zipcheck-'));
  const file = path.join(scratch, 'plate.zip');
  await writeFile(file, zip);
  const handle = await open(file, 'r');
  try {
    const entries = (await readZipEntries(handle, file)).filter((e) => !e.isDirectory && !e.name.startsWith('__MACOSX/'));
    expect(entries.map((e) => path.posix.basename(e.name)).sort()).toEqual([...files].sort());
    for (const entry of entries) {
      expect((await readFile(path.join(root, dir, path.posix.basename(entry.name)))).equals(await readZipEntry(handle, entry, file))).toBe(true);
    }
  } finally {
    await handle.close();
    await rm(scratch, { recursive: true, force: true });
  }
  expect(existsSync(path.join(root, dir, '._' + files[0]))).toBe(false);
}

async function labelledFieldsOf(plate: string): Promise<number> {
  const imageFile = path.join(BBBC021_METADATA_DIR, 'BBBC021_v1_image.csv');
  const moaFile = path.join(BBBC021_METADATA_DIR, 'BBBC021_v1_moa.csv');
  const { fields } = fieldsFromImageTable(parseImageTable(await readFile(imageFile, 'utf8')), parseMoaTable(await readFile(moaFile, 'utf8')));
  return fields.filter((f) => f.plate === plate && f.metadata?.moa !== undefined && isMoaClass(f.metadata.moa)).length;
}

const DROPPED = 'Week1_22123';
const FLAKY = 'Week2_24121';
const DAMAGED = 'Week3_25421';
const ABSENT = 'Week4_27481';
const SLOW = 'Week1_22141';
const zipOf = (plate: string) => `BBBC021_v1_images_${plate}.zip`;

const temps: string[] = [];
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'moa-bbbc021-'));
  temps.push(dir);
  return dir;
}
afterAll(async () => {
  for (const dir of temps) await rm(dir, { recursive: true, force: true });
});

describe('npm run data:bbbc021 against a faulty mirror', () => {
  const mirror = new FaultyMirror();
  let baseUrl: string;
  const zips = new Map<string, Buffer>();
  beforeAll(async () => {
    baseUrl = await mirror.start();
    for (const plate of [DROPPED, FLAKY, DAMAGED, ABSENT]) zips.set(plate, plateZip(plate).bytes);
  });
  afterAll(() => mirror.stop());

  it('resumes a dropped connection with Range, retries a 500, reports a 404 and a damaged zip, and finishes on a rerun', async () => {
    const out = await tempDir();
    mirror.zips.set(zipOf(DROPPED), zips.get(DROPPED)!);
    mirror.zips.set(zipOf(FLAKY), zips.get(FLAKY)!);
    const damaged = plateZip(DAMAGED);
    damaged.bytes[damaged.dataOffsets[1] + 40] ^= 0x10; // entry 1 is stored: its CRC-32 no longer matches
    mirror.zips.set(zipOf(DAMAGED), damaged.bytes);
    mirror.faults.set(zipOf(DROPPED), ['drop-half']);
    mirror.faults.set(zipOf(FLAKY), ['status-500']);
    const args = ['--out', out, '--base-url', baseUrl, '--plates', [DROPPED, FLAKY, DAMAGED, ABSENT].join(','), '--retries', '3', '--backoff', '0.05', '--progress-every', '0.2'];

    const first = await runCli(args);
    expect(first.stderr).not.toMatch(/\n\s+at /); // no stack trace
    expect(first.code).toBe(3);

    // The dropped plate: the second request resumed exactly where the first one's bytes ended.
    const dropped = mirror.requestsFor(zipOf(DROPPED));
    expect(dropped.map((r) => r.status)).toEqual([200, 206]);
    expect(dropped[0].range).toBeUndefined();
    const resumedAt = Number(/^bytes=(\d+)-$/.exec(dropped[1].range ?? '')?.[1]);
    expect(resumedAt).toBeGreaterThan(0);
    expect(resumedAt).toBeLessThanOrEqual(dropped[0].bytes);
    expect(dropped[1].bytes).toBe(zips.get(DROPPED)!.length - resumedAt);
    expect(first.stdout).toMatch(new RegExp(`${DROPPED}\\s+downloaded .*2 requests, resumed at byte ${resumedAt}, every CRC-32 checked`));
    await expectPlateUnpacked(out, DROPPED, zips.get(DROPPED)!);

    // The flaky plate: a 500, then the whole file.
    expect(mirror.requestsFor(zipOf(FLAKY)).map((r) => [r.status, r.range])).toEqual([[500, undefined], [200, undefined]]);
    expect(first.stderr).toMatch(new RegExp(`${FLAKY}: HTTP 500.*; retrying in 50 ms`));
    await expectPlateUnpacked(out, FLAKY, zips.get(FLAKY)!);

    // The damaged plate is named, its folder never appears, nothing half-unpacked is left behind.
    expect(first.stdout).toMatch(new RegExp(`${DAMAGED}\\s+FAILED: ${zipOf(DAMAGED)}: ${DAMAGED}/\\S+\\.tif: CRC-32 mismatch`));
    expect(existsSync(path.join(out, 'Week3', DAMAGED))).toBe(false);
    expect(await readdir(path.join(out, '.bbbc021-download'))).toEqual([]);

    // The absent plate is reported missing, with its URL, after one request (a 404 is not retried).
    expect(first.stdout).toMatch(new RegExp(`${ABSENT}\\s+MISSING: not on the server \\(HTTP 404\\): ${baseUrl}${zipOf(ABSENT)}`));
    expect(mirror.requestsFor(zipOf(ABSENT))).toHaveLength(1);

    expect(first.stdout).toMatch(/Check: 480 of 960 fields have their 3 files/);
    expect(first.stdout).toMatch(new RegExp(`${DAMAGED}\\s+240 fields \\(e\\.g\\. Week3/${DAMAGED}/`));
    expect(first.stdout).toMatch(new RegExp(`${ABSENT}\\s+240 fields`));

    // The layout is the trainer's: CSVs at the root, files where the table says; the sha256 of each zip recorded.
    expect((await readFile(path.join(out, 'BBBC021_v1_image.csv'))).equals(await readFile(path.join(BBBC021_METADATA_DIR, 'BBBC021_v1_image.csv')))).toBe(true);
    const index = await loadDatasetIndex(out);
    const downloadedLabelled = (await labelledFieldsOf(DROPPED)) + (await labelledFieldsOf(FLAKY));
    expect(index.samples.filter((s) => s.plate === DROPPED || s.plate === FLAKY)).toHaveLength(downloadedLabelled);
    expect(index.samples).toHaveLength(downloadedLabelled);
    expect(await readFile(path.join(out, 'BBBC021_v1_images.sha256'), 'utf8')).toBe(`${sha256(zips.get(DROPPED)!)}  ${zipOf(DROPPED)}\n${sha256(zips.get(FLAKY)!)}  ${zipOf(FLAKY)}\n`);

    // The mirror is repaired: the rerun skips the finished plates and fetches the other two.
    mirror.zips.set(zipOf(DAMAGED), zips.get(DAMAGED)!);
    mirror.zips.set(zipOf(ABSENT), zips.get(ABSENT)!);
    const before = mirror.log.length;
    const second = await runCli(args);
    expect(second.code).toBe(0);
    expect(mirror.log.slice(before).map((r) => r.zip).sort()).toEqual([zipOf(DAMAGED), zipOf(ABSENT)]);
    expect(second.stdout).toMatch(new RegExp(`${DROPPED}\\s+complete \\(an earlier run\\)`));
    expect(second.stdout).toMatch(/Check: 960 of 960 fields have their 3 files/);
    await expectPlateUnpacked(out, DAMAGED, zips.get(DAMAGED)!);
    await expectPlateUnpacked(out, ABSENT, zips.get(ABSENT)!);
    let labelledOfAll = 0;
    for (const plate of [DROPPED, FLAKY, DAMAGED, ABSENT]) labelledOfAll += await labelledFieldsOf(plate);
    expect((await loadDatasetIndex(out)).samples).toHaveLength(labelledOfAll);
  });

  it('keeps the .part of a run that gave up on a stalled server, and the next run resumes it with Range', async () => {
    const out = await tempDir();
    const plate = 'Week7_34341';
    const zip = plateZip(plate).bytes;
    mirror.zips.set(zipOf(plate), zip);
    mirror.faults.set(zipOf(plate), ['stall-half', 'stall']); // half the file then silence; then nothing at all
    const args = ['--out', out, '--base-url', baseUrl, '--plates', plate, '--timeout', '1', '--retries', '0', '--backoff', '0'];
    const first = await runCli(args);
    expect(first.code).toBe(3);
    const requests = mirror.requestsFor(zipOf(plate));
    // The first attempt's bytes are progress, so it is retried despite --retries 0; the second, silent one is not.
    expect(requests.map((r) => r.status)).toEqual([200, 206]);
    const kept = Number(/^bytes=(\d+)-$/.exec(requests[1].range ?? '')?.[1]);
    expect(kept).toBe(requests[0].bytes);
    expect(first.stdout).toMatch(new RegExp(`${plate}\\s+FAILED: ${baseUrl}${zipOf(plate)}: the connection failed at byte ${kept} of ${zip.length} \\(no data for 1 s\\) \\(gave up after 2 attempts`));
    expect((await readFile(path.join(out, '.bbbc021-download', `${zipOf(plate)}.part`))).equals(zip.subarray(0, kept))).toBe(true);
    expect(existsSync(path.join(out, realPlateFiles(plate).dir))).toBe(false);

    const second = await runCli(args);
    expect(second.code).toBe(0);
    const resumed = mirror.requestsFor(zipOf(plate)).slice(2);
    expect(resumed.map((r) => [r.status, r.range, r.bytes])).toEqual([[206, `bytes=${kept}-`, zip.length - kept]]);
    expect(second.stdout).toMatch(new RegExp(`${plate}\\s+downloaded .*resumed at byte ${kept}, every CRC-32 checked`));
    await expectPlateUnpacked(out, plate, zip);
  });

  it('shows correct progress from a slow server and finishes', async () => {
    const out = await tempDir();
    const zip = plateZip(SLOW, { size: 12 }).bytes;
    mirror.zips.set(zipOf(SLOW), zip);
    mirror.throttle = Math.ceil(zip.length / 100); // about 100 ticks of 20 ms
    try {
      const result = await runCli(['--out', out, '--base-url', baseUrl, '--plates', SLOW, '--timeout', '5', '--progress-every', '0.1']);
      expect(result.stderr).not.toMatch(/\n\s+at /);
      expect(result.code).toBe(0);
      const lines = result.stderr.split('\n').filter((l) => l.startsWith('download: '));
      const parsed = lines.map((l) => /^download: ([\d.]+)% (.+?) of (~?)(.+?), (.+?)\/s, ETA (\S+);/.exec(l)!);
      expect(parsed.every(Boolean)).toBe(true);
      const percents = parsed.map((m) => Number(m[1]));
      expect(percents.every((p, i) => p >= (percents[i - 1] ?? 0) && p <= 100)).toBe(true);
      const during = parsed.filter((m) => Number(m[1]) > 0 && Number(m[1]) < 100);
      expect(during.length).toBeGreaterThanOrEqual(5);
      for (const m of during) {
        expect(m[3]).toBe(''); // the size is known from Content-Length: no estimate
        expect(m[4]).toBe(formatBytes(zip.length));
        expect(m[5]).not.toBe('0 B');
        expect(m[6]).not.toBe('?');
      }
      const last = parsed.at(-1)!;
      expect([last[1], last[2], last[4]]).toEqual(['100.0', formatBytes(zip.length), formatBytes(zip.length)]);
      expect(result.stdout).toMatch(/Check: 240 of 240 fields have their 3 files/);
      await expectPlateUnpacked(out, SLOW, zip);
    } finally {
      mirror.throttle = undefined;
    }
  });

  it('follows a redirect, unpacks only the labelled fields with --labelled-only and refuses a zip whose sha256 differs from --sha256', async () => {
    const out = await tempDir();
    const good = 'Week5_28901';
    const wrong = 'Week6_31641';
    const goodZip = plateZip(good).bytes;
    mirror.zips.set(zipOf(good), goodZip);
    mirror.zips.set(zipOf(wrong), plateZip(wrong).bytes);
    const sums = path.join(out, '..', `${path.basename(out)}.sha256`);
    temps.push(sums);
    await writeFile(sums, `${sha256(goodZip)}  ${zipOf(good)}\n${'0'.repeat(64)} *${zipOf(wrong)}\n`);
    const result = await runCli(['--out', out, '--base-url', baseUrl.replace('/mirror/', '/moved/'), '--plates', `${good},${wrong}`, '--labelled-only', '--sha256', sums, '--concurrency', '1']);
    expect(result.code).toBe(3);
    expect(mirror.log.filter((r) => r.zip.endsWith(zipOf(good))).map((r) => [r.zip, r.status])).toEqual([[`/moved/${zipOf(good)}`, 301], [zipOf(good), 200]]);
    const labelled = await labelledFieldsOf(good);
    expect(labelled).toBeGreaterThan(0);
    expect(labelled).toBeLessThan(240);
    const { dir } = realPlateFiles(good);
    expect((await readdir(path.join(out, dir))).filter((f) => f.endsWith('.tif'))).toHaveLength(3 * labelled);
    expect(result.stdout).toMatch(new RegExp(`${good}\\s+downloaded .*every CRC-32 checked, sha256 as expected`));
    expect(result.stdout).toMatch(new RegExp(`${wrong}\\s+FAILED: ${zipOf(wrong)}: sha256 [0-9a-f]{64}, expected 0{64} \\(--sha256\\)`));
    expect(result.stdout).toMatch(new RegExp(`Check: ${labelled} of ${labelled + (await labelledFieldsOf(wrong))} labelled fields`));
    expect(existsSync(path.join(out, realPlateFiles(wrong).dir))).toBe(false);
    expect((await loadDatasetIndex(out)).samples.filter((s) => s.plate === good)).toHaveLength(labelled);
  });
});

describe('the zip reader and writer against an independent zip implementation (Python zipfile)', () => {
  const python = spawnSync('python3', ['--version']).status === 0;
  it.runIf(python)('reads a zip Python wrote, and Python reads the Zip64 zips the tests serve', async () => {
    const dir = await tempDir();
    const fromPython = path.join(dir, 'python.zip');
    const script = `import zipfile,sys
with zipfile.ZipFile(sys.argv[1], 'w') as z:
    z.writestr(zipfile.ZipInfo('Week1_22123/'), b'')
    z.writestr('Week1_22123/a.tif', b'stored' * 100, compress_type=zipfile.ZIP_STORED)
    z.writestr('Week1_22123/b.tif', b'deflated' * 1000, compress_type=zipfile.ZIP_DEFLATED)`;
    expect(spawnSync('python3', ['-c', script, fromPython]).status).toBe(0);
    const handle = await open(fromPython, 'r');
    try {
      const entries = await readZipEntries(handle, fromPython);
      expect(entries.map((e) => [e.name, e.method])).toEqual([['Week1_22123/', 0], ['Week1_22123/a.tif', 0], ['Week1_22123/b.tif', 8]]);
      expect((await readZipEntry(handle, entries[2], fromPython)).toString()).toBe('deflated'.repeat(1000));
    } finally {
      await handle.close();
    }
    const ours = path.join(dir, 'ours.zip');
    await writeFile(ours, buildZip([{ name: 'x/a.tif', data: new Uint8Array([1, 2, 3]) }, { name: 'x/b.tif', data: new Uint8Array(500).fill(7), method: 'deflate' }], { zip64: true }).bytes);
    const check = spawnSync('python3', ['-c', 'import zipfile,sys; z=zipfile.ZipFile(sys.argv[1]); print(z.testzip(), [(i.filename, i.file_size) for i in z.infolist()])', ours], { encoding: 'utf8' });
    expect(check.stdout.trim()).toBe("None [('x/a.tif', 3), ('x/b.tif', 500)]");
  });
});
