// Checkpoints: weights, optimizer state, position, RNG state and config in one file, written atomically.
import { createHash } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm } from 'node:fs/promises';
import path from 'node:path';

const MAGIC = 'MOACKPT1';

export interface CheckpointState {
  /** Completed optimizer steps. */
  step: number;
  epoch: number;
  /** Steps done inside the current epoch. */
  stepInEpoch: number;
  rngState: number;
  config: Record<string, unknown>;
  /** Loss history so far, for curves in the report. */
  history: Record<string, unknown>[];
}

export interface Checkpoint extends CheckpointState {
  weights: Float32Array;
  velocity: Float32Array;
}

interface Header extends CheckpointState {
  values: number;
  sha256: string;
}

const fileName = (step: number) => `ckpt-${String(step).padStart(8, '0')}.bin`;

/** Writes `<dir>/ckpt-<step>.bin` via a temp file + fsync + rename, then keeps only the newest `keep`. */
export async function saveCheckpoint(dir: string, ckpt: Checkpoint, keep: number): Promise<string> {
  await mkdir(dir, { recursive: true });
  const payload = Buffer.concat([Buffer.from(ckpt.weights.buffer, ckpt.weights.byteOffset, ckpt.weights.byteLength), Buffer.from(ckpt.velocity.buffer, ckpt.velocity.byteOffset, ckpt.velocity.byteLength)]);
  const { weights: _w, velocity: _v, ...state } = ckpt;
  const header: Header = { ...state, values: ckpt.weights.length, sha256: createHash('sha256').update(payload).digest('hex') };
  const json = Buffer.from(JSON.stringify(header));
  const prefix = Buffer.alloc(MAGIC.length + 4);
  prefix.write(MAGIC, 0, 'latin1');
  prefix.writeUInt32LE(json.length, MAGIC.length);
  const target = path.join(dir, fileName(ckpt.step));
  const tmp = `${target}.tmp-${process.pid}`;
  const fh = await open(tmp, 'w');
  try {
    await fh.writev([prefix, json, payload]);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, target);
  const all = await listCheckpoints(dir);
  for (const old of all.slice(0, Math.max(0, all.length - keep))) await rm(path.join(dir, old), { force: true });
  return target;
}

/** The checkpoint files in `dir` (names only), oldest step first. */
export async function listCheckpoints(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).filter((f) => /^ckpt-\d{8}\.bin$/.test(f)).sort();
  } catch {
    return [];
  }
}

/** Parses and verifies one checkpoint file; throws on any damage. */
export async function readCheckpoint(file: string): Promise<Checkpoint> {
  const buf = await readFile(file);
  if (buf.length < MAGIC.length + 4 || buf.toString('latin1', 0, MAGIC.length) !== MAGIC) throw new Error('not a checkpoint (bad magic)');
  const jsonLength = buf.readUInt32LE(MAGIC.length);
  const start = MAGIC.length + 4;
  if (start + jsonLength > buf.length) throw new Error('truncated header');
  const header = JSON.parse(buf.toString('utf8', start, start + jsonLength)) as Header;
  const payload = buf.subarray(start + jsonLength);
  if (payload.length !== header.values * 8) throw new Error(`truncated: ${payload.length} payload bytes, expected ${header.values * 8}`);
  if (createHash('sha256').update(payload).digest('hex') !== header.sha256) throw new Error('payload does not match its sha256');
  const floats = new Float32Array(payload.buffer.slice(payload.byteOffset, payload.byteOffset + payload.length));
  const { values, sha256: _s, ...state } = header;
  return { ...state, weights: floats.subarray(0, values), velocity: floats.subarray(values) };
}

/** The newest valid checkpoint in `dir`, skipping (with a warning) any that is corrupt or truncated. */
export async function latestCheckpoint(dir: string, warn: (msg: string) => void = console.warn): Promise<{ file: string; checkpoint: Checkpoint } | null> {
  const files = await listCheckpoints(dir);
  for (const f of files.reverse()) {
    const file = path.join(dir, f);
    try {
      return { file, checkpoint: await readCheckpoint(file) };
    } catch (e) {
      warn(`warning: skipping checkpoint ${file}: ${(e as Error).message}`);
    }
  }
  return null;
}
