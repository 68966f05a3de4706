// The app talks to the engine through its public face only: no file under src/app imports from src/engine but src/engine/index.ts.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '../..');
const APP = path.join(ROOT, 'src/app');
const ENGINE = path.join(ROOT, 'src/engine');
const ENGINE_INDEX = path.join(ENGINE, 'index.ts');

/** Module specifiers of static imports and re-exports, side-effect imports and dynamic import() calls. */
function importSpecifiers(source: string): string[] {
  const patterns = [/\b(?:import|export)\s[^'"]*?\bfrom\s*['"]([^'"]+)['"]/g, /\bimport\s*['"]([^'"]+)['"]/g, /\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g];
  return patterns.flatMap((pattern) => [...source.matchAll(pattern)].map((m) => m[1]));
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(full);
    return /\.(ts|svelte)$/.test(entry.name) ? [full] : [];
  });
}

/** Every relative import of a file, resolved to an absolute path. */
function resolvedImports(file: string): string[] {
  return importSpecifiers(readFileSync(file, 'utf8'))
    .filter((s) => s.startsWith('.'))
    .map((s) => path.resolve(path.dirname(file), s));
}

describe('app -> engine boundary', () => {
  it('finds static, type, re-export, side-effect and dynamic imports', () => {
    const source = `import a from './a.ts';\nimport type { B } from "../b.ts";\nimport {\n  c,\n  type D,\n} from './c.ts';\nexport { e } from './e.ts';\nimport './f.css';\nconst g = await import('./g.ts');`;
    expect(importSpecifiers(source)).toEqual(['./a.ts', '../b.ts', './c.ts', './e.ts', './f.css', './g.ts']);
  });

  it('imports nothing from src/engine but its index', () => {
    const engineImports = sourceFiles(APP).flatMap((file) =>
      resolvedImports(file)
        .filter((target) => target.startsWith(`${ENGINE}${path.sep}`))
        .map((target) => `${path.relative(ROOT, file)} -> ${path.relative(ROOT, target)}`),
    );
    expect(engineImports.length).toBeGreaterThan(0); // the scan sees the app's engine imports at all
    expect(engineImports.filter((line) => !line.endsWith(` -> ${path.relative(ROOT, ENGINE_INDEX)}`))).toEqual([]);
  });
});
