// Backend selection in a fresh Node process (the engine is chosen once per process): with the native engine turned
// off, auto falls back to WASM and says how to install oneDNN. It spawns `node --import tsx`, so it runs in the
// e2e tier (vite.config.ts); the in-process checks are in engine-backend.test.ts.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { isTfjsNodeInstalled } from '../../training/src/backend/select.ts';

describe('selectBackend', () => {
  it.skipIf(isTfjsNodeInstalled())('without the native engine, auto falls back to wasm and says how to install it', () => {
    const script = "import { selectBackend } from './training/src/backend/select.ts'; await selectBackend({});";
    const run = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      encoding: 'utf8',
      env: { ...process.env, MOA_NATIVE_ENGINE: 'off' },
    });
    expect(run.status, run.stderr).toBe(0);
    const lines = run.stdout.trim().split('\n').filter((l) => l.startsWith('[engine]'));
    expect(lines[0]).toMatch(/backend: wasm, 1 thread .*turned off \(MOA_NATIVE_ENGINE=off\)/);
    expect(lines[1]).toMatch(/native oneDNN engine.*apt-get install libdnnl-dev/);
    expect(lines).toHaveLength(2);
  });
});
