// The compiler enforces the layers: each layer's own tsconfig (src/core, src/engine, src/app, training)
// gives it only the runtime it runs in. The core sees the ES library alone, the engine adds Web Worker,
// the app the DOM, the trainer Node. Here each real config compiles small in-memory probe files placed in
// its folder: the APIs the layer may use must compile, every other runtime's must not. Inside the trainer,
// the data and training modules do not import the simulator (which builds on them).
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const repoRoot = path.resolve(import.meta.dirname, '..');

/** One use of one runtime's API, as a module of its own. */
const PROBES = {
  /** What browsers, workers and Node all provide (declared for the core in src/core/runtime-globals.d.ts). */
  sharedGlobals: "export const elapsed = performance.now(); export const text = new TextDecoder().decode(new TextEncoder().encode('x'));",
  dom: 'export const title = document.title;',
  worker: 'declare const scope: DedicatedWorkerGlobalScope; export const post = scope.postMessage;',
  nodeModule: "import { readFileSync } from 'node:fs'; export const read = readFileSync;",
  nodeGlobals: "export const cwd = process.cwd(); export const bytes = Buffer.from('x');",
};
type ProbeName = keyof typeof PROBES;

interface Layer {
  project: string;
  allowed: ProbeName[];
  forbidden: ProbeName[];
  /** Compile the project's own files with the probes (to catch a library a dependency's types pull in). */
  withSources?: boolean;
}

const LAYERS: Layer[] = [
  { project: 'src/core', allowed: ['sharedGlobals'], forbidden: ['dom', 'worker', 'nodeModule', 'nodeGlobals'], withSources: true },
  { project: 'src/engine', allowed: ['sharedGlobals', 'worker'], forbidden: ['dom', 'nodeModule', 'nodeGlobals'] },
  { project: 'src/app', allowed: ['sharedGlobals', 'dom'], forbidden: ['worker', 'nodeModule', 'nodeGlobals'] },
  { project: 'training', allowed: ['sharedGlobals', 'nodeModule', 'nodeGlobals'], forbidden: ['dom', 'worker'] },
];

/** Type-checks the probes as files of the project (with its compiler options); error messages by file. */
function compileProbes(layer: Layer): Map<string, string[]> {
  const configPath = path.join(repoRoot, layer.project, 'tsconfig.json');
  const config = ts.getParsedCommandLineOfConfigFile(configPath, undefined, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: (d) => { throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n')); } });
  if (!config) throw new Error(`cannot read ${configPath}`);
  const probeDir = path.join(repoRoot, layer.project, 'layer-probe');
  const probeSources = new Map(Object.entries(PROBES).map(([name, source]) => [path.join(probeDir, `${name}.ts`), source]));
  const options: ts.CompilerOptions = { ...config.options, noEmit: true, composite: false, declaration: false, emitDeclarationOnly: false };
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile;
  host.getSourceFile = (fileName, languageVersion, ...rest) => {
    const probe = probeSources.get(path.resolve(fileName));
    return probe === undefined ? getSourceFile(fileName, languageVersion, ...rest) : ts.createSourceFile(fileName, probe, languageVersion);
  };
  const fileExists = host.fileExists;
  host.fileExists = (fileName) => probeSources.has(path.resolve(fileName)) || fileExists(fileName);
  const ownFiles = layer.withSources ? config.fileNames : config.fileNames.filter((f) => f.endsWith('.d.ts'));
  const program = ts.createProgram({ rootNames: [...ownFiles, ...probeSources.keys()], options, host });
  const errors = new Map<string, string[]>();
  for (const d of ts.getPreEmitDiagnostics(program)) {
    const file = d.file ? path.relative(probeDir, d.file.fileName) : '(global)';
    errors.set(file, [...(errors.get(file) ?? []), ts.flattenDiagnosticMessageText(d.messageText, '\n')]);
  }
  return errors;
}

describe('each layer compiles only against its own runtime', () => {
  it.each(LAYERS)('$project', (layer) => {
    const errors = compileProbes(layer);
    for (const name of layer.allowed) expect(errors.get(`${name}.ts`), `${layer.project} may use ${name}`).toBeUndefined();
    for (const name of layer.forbidden) expect(errors.get(`${name}.ts`), `${layer.project} must not see ${name}`).toBeDefined();
    const others = [...errors].filter(([file]) => !layer.forbidden.some((name) => file === `${name}.ts`));
    expect(others, 'errors outside the forbidden probes').toEqual([]);
  });
});

/** Relative imports of every .ts file under `dir`, resolved to paths from the repository root. */
function relativeImports(dir: string): { file: string; target: string }[] {
  const files = readdirSync(path.join(repoRoot, dir), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'));
  return files.flatMap((f) => {
    const file = path.join(repoRoot, dir, f);
    return ts
      .preProcessFile(readFileSync(file, 'utf8'))
      .importedFiles.filter((i) => i.fileName.startsWith('.'))
      .map((i) => ({ file: path.relative(repoRoot, file), target: path.relative(repoRoot, path.resolve(path.dirname(file), i.fileName)) }));
  });
}

describe('the trainer imports downwards', () => {
  it.each(['training/src/data', 'training/src/train'])('%s does not import training/src/simulate', (dir) => {
    const imports = relativeImports(dir);
    expect(imports.length).toBeGreaterThan(0);
    expect(imports.filter((i) => i.target.startsWith(`training${path.sep}src${path.sep}simulate${path.sep}`))).toEqual([]);
  });
});
