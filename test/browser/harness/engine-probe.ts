// Test page script: exposes the engine on window so browser tests drive it (served in dev and built into the site).
import { createEngine } from '../../../src/engine/index.ts';

declare global {
  interface Window {
    moaLens: { createEngine: typeof createEngine };
  }
}

window.moaLens = { createEngine };
document.getElementById('status')!.textContent = 'ready';
