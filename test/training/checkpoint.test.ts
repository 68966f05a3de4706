import { describe, expect, it } from 'vitest';
import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { latestCheckpoint, readCheckpoint, saveCheckpoint, type Checkpoint } from '../../training/src/train/checkpoint.ts';

const make = (step: number): Checkpoint => ({
  step,
  epoch: 1,
  stepInEpoch: step % 3,
  rngState: 1234 + step,
  config: { seed: 1 },
  history: [{ step, loss: 1 / (step + 1) }],
  weights: Float32Array.from({ length: 100 }, (_, i) => i * step),
  velocity: Float32Array.from({ length: 100 }, (_, i) => -i),
});

describe('checkpoints', () => {
  it('round-trips exactly and keeps only the newest K', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'ckpt-'));
    for (let s = 1; s <= 5; s++) await saveCheckpoint(dir, make(s), 3);
    expect((await readdir(dir)).sort()).toEqual(['ckpt-00000003.bin', 'ckpt-00000004.bin', 'ckpt-00000005.bin']);
    const latest = await latestCheckpoint(dir);
    expect(latest!.checkpoint.step).toBe(5);
    expect(Array.from(latest!.checkpoint.weights)).toEqual(Array.from(make(5).weights));
    expect(Array.from(latest!.checkpoint.velocity)).toEqual(Array.from(make(5).velocity));
    expect(latest!.checkpoint.rngState).toBe(1239);
  });

  it('skips a truncated or corrupted newest checkpoint with a warning', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'ckpt-'));
    for (let s = 1; s <= 3; s++) await saveCheckpoint(dir, make(s), 5);
    const f3 = path.join(dir, 'ckpt-00000003.bin');
    const bytes = await readFile(f3);
    await writeFile(f3, bytes.subarray(0, bytes.length - 10));
    const f2 = path.join(dir, 'ckpt-00000002.bin');
    const b2 = await readFile(f2);
    b2[b2.length - 5] ^= 0xff;
    await writeFile(f2, b2);
    const warnings: string[] = [];
    const latest = await latestCheckpoint(dir, (m) => warnings.push(m));
    expect(latest!.checkpoint.step).toBe(1);
    expect(warnings.join('\n')).toMatch(/ckpt-00000003.bin: truncated/);
    expect(warnings.join('\n')).toMatch(/ckpt-00000002.bin: payload does not match its sha256/);
    await expect(readCheckpoint(f3)).rejects.toThrow(/truncated/);
    expect(await latestCheckpoint(path.join(dir, 'none'))).toBeNull();
  });
});
