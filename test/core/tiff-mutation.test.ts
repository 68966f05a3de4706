// Mutation test: the real TIFFs corrupted in many seeded ways (bit flips, truncation, overwritten header
// fields, moved data offsets, page-chain cycles). Every case must end as a decode or a TiffDecodeError
// within a time limit; decodes run in a child process that is killed if a case runs too long.
import fs from 'node:fs';
import path from 'node:path';
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, test } from 'vitest';
import { REAL_TIFFS_DIR } from '../fixtures/paths.ts';

const realRoot = REAL_TIFFS_DIR;
const CASES = Number(process.env.TIFF_MUTATION_CASES ?? 480);
const PER_CASE_LIMIT_MS = 5000;
const SEED = 0x5eed1234;

/** mulberry32: small seeded PRNG, so every run corrupts the same way. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const sources = (fs.readdirSync(realRoot, { recursive: true }) as string[])
  .filter((f) => f.endsWith('.tif'))
  .sort()
  .map((rel) => ({ rel, bytes: new Uint8Array(fs.readFileSync(path.join(realRoot, rel))) }));

/** Byte offsets of the first page directory's entries (to aim mutations at header fields). */
function entryOffsets(bytes: Uint8Array): number[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const le = bytes[0] === 0x49;
  const ifd = view.getUint32(4, le);
  if (ifd + 2 > bytes.length) return [];
  const count = view.getUint16(ifd, le);
  return Array.from({ length: count }, (_, i) => ifd + 2 + i * 12).filter((at) => at + 12 <= bytes.length);
}

const EXTREMES = [0, 1, 0xffff, 0x7fffffff, 0xffffffff, 100_000, 65_536, 3];

function mutate(original: Uint8Array, random: () => number): { bytes: Uint8Array; kind: string } {
  const bytes = original.slice();
  const view = new DataView(bytes.buffer);
  const le = bytes[0] === 0x49;
  const pick = (n: number) => Math.floor(random() * n);
  const entries = entryOffsets(original);
  switch (pick(7)) {
    case 0: {
      const flips = 1 + pick(32);
      for (let i = 0; i < flips; i++) bytes[pick(bytes.length)] ^= 1 << pick(8);
      return { bytes, kind: `${flips} bit flips` };
    }
    case 1: {
      const cut = pick(bytes.length);
      return { bytes: bytes.slice(0, cut), kind: `truncated to ${cut}` };
    }
    case 2: {
      if (entries.length === 0) return { bytes, kind: 'unchanged' };
      const at = entries[pick(entries.length)];
      const value = random() < 0.5 ? EXTREMES[pick(EXTREMES.length)] : pick(2 ** 32);
      view.setUint32(at + 8, value >>> 0, le);
      return { bytes, kind: `tag ${view.getUint16(at, le)} value := ${value}` };
    }
    case 3: {
      if (entries.length === 0) return { bytes, kind: 'unchanged' };
      const at = entries[pick(entries.length)];
      view.setUint32(at + 4, EXTREMES[pick(EXTREMES.length)], le);
      if (random() < 0.5) view.setUint16(at + 2, pick(20), le);
      return { bytes, kind: `tag ${view.getUint16(at, le)} count/type changed` };
    }
    case 4: {
      // swap the value fields (offsets) of two entries
      if (entries.length < 2) return { bytes, kind: 'unchanged' };
      const a = entries[pick(entries.length)];
      const b = entries[pick(entries.length)];
      const va = view.getUint32(a + 8, le);
      view.setUint32(a + 8, view.getUint32(b + 8, le), le);
      view.setUint32(b + 8, va, le);
      return { bytes, kind: `swapped offsets of tags ${view.getUint16(a, le)} and ${view.getUint16(b, le)}` };
    }
    case 5: {
      const start = pick(bytes.length);
      const length = Math.min(bytes.length - start, 1 + pick(4096));
      for (let i = 0; i < length; i++) bytes[start + i] = pick(256);
      return { bytes, kind: `garbage ${length} bytes at ${start}` };
    }
    default: {
      // next-page pointer of the first directory -> the first directory (cycle) or a random place
      const ifd = view.getUint32(4, le);
      const count = ifd + 2 <= bytes.length ? view.getUint16(ifd, le) : 0;
      const nextAt = ifd + 2 + count * 12;
      if (nextAt + 4 > bytes.length) return { bytes, kind: 'unchanged' };
      view.setUint32(nextAt, random() < 0.5 ? ifd : pick(bytes.length), le);
      return { bytes, kind: 'page chain redirected' };
    }
  }
}

type Outcome = { outcome: string; code?: string; detail?: string; ms: number };

class DecodeRunner {
  private child?: ChildProcess;
  private start(): ChildProcess {
    const script = fileURLToPath(new URL('../fixtures/tiff/mutation-worker.ts', import.meta.url));
    this.child = fork(script, [], { execArgv: ['--import', 'tsx'], serialization: 'advanced', stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
    return this.child;
  }
  run(id: number, bytes: Uint8Array, name: string): Promise<Outcome> {
    const child = this.child ?? this.start();
    return new Promise((resolve) => {
      const done = (outcome: Outcome) => {
        clearTimeout(timer);
        child.removeAllListeners('message');
        child.removeAllListeners('exit');
        resolve(outcome);
      };
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        this.child = undefined;
        done({ outcome: 'timeout', ms: PER_CASE_LIMIT_MS });
      }, PER_CASE_LIMIT_MS);
      child.once('exit', (code, signal) => {
        this.child = undefined;
        done({ outcome: 'process-died', detail: `exit ${code} ${signal}`, ms: 0 });
      });
      child.on('message', (message: Outcome & { id: number }) => {
        if (message.id === id) done(message);
      });
      child.send({ id, bytes, name });
    });
  }
  stop(): void {
    this.child?.kill('SIGKILL');
  }
}

const runner = new DecodeRunner();
afterAll(() => runner.stop());

test(`${CASES} seeded corruptions of the real files: each decodes or fails with a TiffDecodeError in < ${PER_CASE_LIMIT_MS} ms`, async () => {
  const random = prng(SEED);
  const failures: string[] = [];
  const tally = new Map<string, number>();
  for (let i = 0; i < CASES; i++) {
    const source = sources[i % sources.length];
    const { bytes, kind } = mutate(source.bytes, random);
    const result = await runner.run(i, bytes, path.basename(source.rel));
    const key = result.code ?? result.outcome;
    tally.set(key, (tally.get(key) ?? 0) + 1);
    if (result.outcome !== 'decoded' && result.outcome !== 'typed-error') {
      failures.push(`case ${i} ${source.rel} (${kind}): ${result.outcome} ${result.detail ?? ''}`);
    }
  }
  console.log(`mutation outcomes: ${JSON.stringify(Object.fromEntries(tally))}`);
  expect(failures).toEqual([]);
  // the corruptions must exercise both outcomes and several error kinds, or the test proves little
  expect(tally.get('decoded') ?? 0).toBeGreaterThan(20);
  expect([...tally.keys()].filter((k) => k !== 'decoded').length).toBeGreaterThanOrEqual(3);
}, 240_000);
