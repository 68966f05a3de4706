// Tests the binding's JS loader without mpirun: clear errors when the addon is missing, watchdog timeout defaults.
import { copyFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { repoRoot } from './mpirun.ts';

type MpiModule = typeof import('@moa-lens/mpi');

/** A fresh copy of index.js in a folder without build/mpi.node, i.e. the package as installed without MPI. */
async function loaderWithoutAddon(): Promise<MpiModule> {
  const dir = mkdtempSync(join(tmpdir(), 'moa-mpi-loader-'));
  writeFileSync(join(dir, 'package.json'), '{"type":"module"}');
  copyFileSync(join(repoRoot, 'training', 'mpi', 'index.js'), join(dir, 'index.js'));
  return (await import(pathToFileURL(join(dir, 'index.js')).href)) as MpiModule;
}

describe('@moa-lens/mpi loader', () => {
  const savedTimeout = process.env.MOA_MPI_TIMEOUT_MS;
  afterEach(() => {
    if (savedTimeout === undefined) delete process.env.MOA_MPI_TIMEOUT_MS;
    else process.env.MOA_MPI_TIMEOUT_MS = savedTimeout;
  });

  it('reports unavailability with a reason instead of crashing at import', async () => {
    const mpi = await loaderWithoutAddon();
    expect(mpi.isAvailable()).toBe(false);
    expect(mpi.unavailableReason()).toMatch(/not built .*install openmpi-bin libopenmpi-dev/);
    expect(() => mpi.init()).toThrow(/@moa-lens\/mpi: the MPI addon is not built/);
    expect(() => mpi.allreduceSum(new Float32Array(1))).toThrow(/not built/);
  });

  it('takes the watchdog default from MOA_MPI_TIMEOUT_MS, an override, or 600000 ms', async () => {
    const mpi = await loaderWithoutAddon();
    delete process.env.MOA_MPI_TIMEOUT_MS;
    expect(mpi.defaultTimeoutMs()).toBe(600_000);
    process.env.MOA_MPI_TIMEOUT_MS = '2500';
    expect(mpi.defaultTimeoutMs()).toBe(2500);
    mpi.setDefaultTimeoutMs(0);
    expect(mpi.defaultTimeoutMs()).toBe(0);
    mpi.setDefaultTimeoutMs(null);
    process.env.MOA_MPI_TIMEOUT_MS = 'soon';
    expect(() => mpi.defaultTimeoutMs()).toThrow(/non-negative number/);
    expect(() => mpi.setDefaultTimeoutMs(-1)).toThrow(RangeError);
  });

  it('loads the built addon in this checkout when MPI is installed', async () => {
    const mpi = await import('@moa-lens/mpi');
    const hasMpicc = (await import('node:child_process')).spawnSync('mpicc', ['--showme:version']).status === 0;
    if (hasMpicc) expect(mpi.unavailableReason()).toBeNull();
    else expect(mpi.isAvailable()).toBe(false);
  });
});
