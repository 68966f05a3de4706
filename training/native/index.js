// JS face of the native engine addon: lazy loading with a reason when it cannot load.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const addonPath = join(dirname(fileURLToPath(import.meta.url)), 'build', 'native-engine.node');
export const INSTALL_HINT = 'apt-get install libdnnl-dev, then npm ci (or node training/native/build.mjs)';

/** @type {any} */
let addon = null;
/** @type {string | null} */
let loadError = null;

function tryLoad() {
  if (addon || loadError) return addon;
  if (process.env.MOA_NATIVE_ENGINE === 'off') {
    loadError = 'the native engine is turned off (MOA_NATIVE_ENGINE=off)';
    return null;
  }
  if (!existsSync(addonPath)) {
    loadError = `the native engine is not built (${addonPath} is missing; it needs oneDNN: ${INSTALL_HINT})`;
    return null;
  }
  try {
    addon = createRequire(import.meta.url)(addonPath);
  } catch (error) {
    loadError = `the native engine failed to load (${error instanceof Error ? error.message : String(error)}; ${INSTALL_HINT})`;
  }
  return addon;
}

/** True when the addon is built and libdnnl loads. */
export function isAvailable() {
  return tryLoad() !== null;
}

/** Why the addon is unavailable, or null when it loads. */
export function unavailableReason() {
  tryLoad();
  return addon ? null : loadError;
}

/** The addon's functions; throws with the reason when it cannot load. */
export function kernels() {
  const loaded = tryLoad();
  if (!loaded) throw new Error(`@moa-lens/native: ${loadError}`);
  return loaded;
}
