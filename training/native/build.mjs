// Builds build/native-engine.node with g++ against Node's headers and Debian's oneDNN (libdnnl-dev) with
// OpenMP; exits 0 without them, so `npm ci` succeeds and the trainer falls back to WASM, saying why.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, realpathSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const packageDir = dirname(fileURLToPath(import.meta.url));
const source = join(packageDir, 'src', 'native_engine.cc');
const output = join(packageDir, 'build', 'native-engine.node');
const log = (message) => console.log(`[@moa-lens/native] ${message}`);
const INSTALL_HINT = 'install it with `apt-get install libdnnl-dev` (or run .ci/setup-debian.sh), then `npm ci` or `node training/native/build.mjs`';

/** Node's C headers: <prefix>/include/node next to the running node binary. */
function nodeIncludeDir() {
  const candidates = [
    resolve(dirname(process.execPath), '..', 'include', 'node'),
    resolve(dirname(realpathSync(process.execPath)), '..', 'include', 'node'),
  ];
  return candidates.find((dir) => existsSync(join(dir, 'node_api.h'))) ?? null;
}

/** The directory holding oneapi/dnnl/dnnl.hpp: $DNNL_ROOT/include, else the system include paths. */
function dnnlIncludeDir() {
  const candidates = [process.env.DNNL_ROOT && join(process.env.DNNL_ROOT, 'include'), '/usr/include', '/usr/local/include'].filter(Boolean);
  return candidates.find((dir) => existsSync(join(dir, 'oneapi', 'dnnl', 'dnnl.hpp'))) ?? null;
}

function main() {
  rmSync(output, { force: true });
  const dnnlInclude = dnnlIncludeDir();
  if (!dnnlInclude) {
    log(`oneDNN headers not found (oneapi/dnnl/dnnl.hpp): ${INSTALL_HINT}; training will use the WASM engine`);
    return;
  }
  const nodeInclude = nodeIncludeDir();
  if (!nodeInclude) {
    log(`Node headers not found next to ${process.execPath} (expected ../include/node/node_api.h); training will use the WASM engine`);
    return;
  }
  const require = createRequire(join(packageDir, 'package.json'));
  const addonApiInclude = dirname(require.resolve('node-addon-api/package.json'));
  const libDirs = process.env.DNNL_ROOT ? [join(process.env.DNNL_ROOT, 'lib')] : [];
  mkdirSync(dirname(output), { recursive: true });
  const args = [
    '-std=c++17', '-O3', '-march=x86-64-v2', '-fPIC', '-shared', '-fopenmp', '-ffp-contract=off', '-Wall',
    '-DNAPI_VERSION=8', '-DNAPI_CPP_EXCEPTIONS', '-DNODE_ADDON_API_DISABLE_DEPRECATED',
    `-I${nodeInclude}`, `-I${addonApiInclude}`, `-I${dnnlInclude}`,
    source, '-o', output,
    ...libDirs.flatMap((dir) => [`-L${dir}`, `-Wl,-rpath,${dir}`]), '-ldnnl',
  ];
  if (process.arch !== 'x64') args.splice(args.indexOf('-march=x86-64-v2'), 1);
  log(`g++ ${args.join(' ')}`);
  try {
    execFileSync('g++', args, { stdio: 'inherit' });
  } catch (error) {
    log(`compiling the native engine failed (${error.message}); training will use the WASM engine`);
    return;
  }
  log(`built ${output}`);
}

main();
