// Keys and trust on the command line: npm run keygen, export --sign-key, and npm run evaluate refusing an unverified bundle.
import { spawnSync } from 'node:child_process';
import { readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseTrustRoots, signingKeyFromPem } from '../../src/core/bundle-trust.ts';
import { readBundleDir } from '../../training/src/bundle-fs.ts';
import { tinyBundleFiles, writeFilesTo } from '../browser/harness/fixtures.ts';
import { REPO_ROOT, tempDir } from '../browser/harness/server.ts';

let tmp: { dir: string; cleanup: () => Promise<void> };

beforeAll(async () => {
  await tf.setBackend('cpu');
  tmp = await tempDir('moa-lens-trust-cli-');
});
afterAll(() => tmp?.cleanup());

function cli(script: string, args: string[]) {
  const run = spawnSync(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'training/src', script), ...args], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 120_000 });
  return { status: run.status, out: run.stdout, err: run.stderr };
}

describe('bundle keys and trust on the command line', () => {
  it('keygen writes a private key only its owner can read, prints the trusted-keys entry, and never overwrites a key', async () => {
    const keyFile = path.join(tmp.dir, 'release.pem');
    const made = cli('keygen-cli.ts', ['--out', keyFile, '--id', 'release']);
    expect(made.status, made.err).toBe(0);
    expect((await stat(keyFile)).mode & 0o777).toBe(0o600);
    const entry = JSON.parse(made.out.slice(made.out.indexOf('{')));
    const signer = await signingKeyFromPem(await readFile(keyFile, 'utf8'));
    expect(entry).toEqual({ id: 'release', publicKey: signer.publicKey });

    // Signed as the export signs; trusted once the entry is in the trust roots.
    const dir = path.join(tmp.dir, 'signed');
    await writeFilesTo(dir, await tinyBundleFiles({ height: 64, width: 64, widthMultiplier: 0.125, signer }));
    expect((await readBundleDir(dir, parseTrustRoots({}, { keys: [entry] }))).trust.status).toBe('signed');
    expect((await readBundleDir(dir)).trust.status).toBe('unverified');

    const again = cli('keygen-cli.ts', ['--out', keyFile]);
    expect(again.status).toBe(2);
    expect(again.err).toMatch(/cannot write .*release\.pem/);
  });

  it('export refuses a --sign-key that is not an Ed25519 private key before any work', async () => {
    const bad = path.join(tmp.dir, 'bad.pem');
    await writeFile(bad, 'not a key');
    const run = cli('export-cli.ts', ['--checkpoint', path.join(tmp.dir, 'none'), '--sign-key', bad]);
    expect(run.status).toBe(2);
    expect(run.err).toContain(`--sign-key ${bad}: not a PEM file`);
  });

  it('evaluate refuses an unverified bundle unless --allow-unverified, and runs a shipped one', async () => {
    const dir = path.join(tmp.dir, 'unsigned');
    await writeFilesTo(dir, await tinyBundleFiles({ height: 64, width: 64, widthMultiplier: 0.125 }));
    const data = path.join(tmp.dir, 'no-data');
    const refused = cli('evaluate-cli.ts', ['--bundle', dir, '--data', data, '--backend', 'cpu']);
    expect(refused.status).not.toBe(0);
    expect(refused.out).toContain('bundle: UNVERIFIED: not shipped with this build and not signed (no moa-lens.sig.json)');
    expect(refused.err).toContain(`refusing to evaluate ${dir}: it is unverified`);
    expect(refused.err).toContain('Pass --allow-unverified to run it anyway.');

    const allowed = cli('evaluate-cli.ts', ['--bundle', dir, '--data', data, '--backend', 'cpu', '--allow-unverified']);
    expect(allowed.err).not.toContain('refusing to evaluate');
    expect(allowed.out).toContain('model: tiny-test');

    const shipped = cli('evaluate-cli.ts', ['--bundle', path.join(REPO_ROOT, 'models/mcnn-sim-v1'), '--data', data, '--backend', 'cpu']);
    expect(shipped.out).toContain('bundle: SHIPPED: shipped with this build as "mcnn-sim-v1"');
    expect(shipped.err).not.toContain('refusing to evaluate');
  });
});
