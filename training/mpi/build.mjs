// Builds build/mpi.node with g++ against Node's own headers and the system MPI; exits 0 without MPI.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, realpathSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const packageDir = dirname(fileURLToPath(import.meta.url));
const source = join(packageDir, 'src', 'mpi_binding.cc');
const output = join(packageDir, 'build', 'mpi.node');
const log = (message) => console.log(`[@moa-lens/mpi] ${message}`);

/** Runs `mpicc --showme:<what>` and splits its flags; null when mpicc is missing. */
function mpiccShowme(what) {
  const result = spawnSync('mpicc', [`--showme:${what}`], { encoding: 'utf8' });
  if (result.error || result.status !== 0) return null;
  return result.stdout.trim().split(/\s+/).filter(Boolean);
}

/** Node's C headers: <prefix>/include/node next to the running node binary. */
function nodeIncludeDir() {
  const candidates = [
    resolve(dirname(process.execPath), '..', 'include', 'node'),
    resolve(dirname(realpathSync(process.execPath)), '..', 'include', 'node'),
  ];
  return candidates.find((dir) => existsSync(join(dir, 'node_api.h'))) ?? null;
}

/** The soname of libmpi that the addon links, so that init() can re-open it RTLD_GLOBAL. */
function libmpiSoname(libDirs) {
  for (const dir of libDirs) {
    const link = join(dir, 'libmpi.so');
    if (!existsSync(link)) continue;
    const objdump = spawnSync('objdump', ['-p', link], { encoding: 'utf8' });
    const match = objdump.status === 0 ? /SONAME\s+(\S+)/.exec(objdump.stdout) : null;
    if (match) return match[1];
    const real = basename(realpathSync(link));
    const versioned = /^(libmpi\.so\.\d+)/.exec(real);
    if (versioned) return versioned[1];
  }
  return 'libmpi.so.40';
}

function main() {
  const compileFlags = mpiccShowme('compile');
  const linkFlags = mpiccShowme('link');
  if (!compileFlags || !linkFlags) {
    log('MPI not found: install openmpi-bin libopenmpi-dev; training will run single-process');
    return;
  }
  const nodeInclude = nodeIncludeDir();
  if (!nodeInclude) {
    log(`Node headers not found next to ${process.execPath} (expected ../include/node/node_api.h); ` +
      'install the Node headers (e.g. Debian libnode-dev / nodejs dev headers); training will run single-process');
    return;
  }
  const require = createRequire(join(packageDir, 'package.json'));
  const addonApiInclude = dirname(require.resolve('node-addon-api/package.json'));
  const libDirs = mpiccShowme('libdirs') ?? [];
  const soname = libmpiSoname(libDirs);
  mkdirSync(dirname(output), { recursive: true });
  const args = [
    '-std=c++17', '-O2', '-fPIC', '-shared', '-pthread', '-Wall',
    '-DNAPI_VERSION=8', '-DOMPI_SKIP_MPICXX', '-DMPICH_SKIP_MPICXX', '-DNAPI_CPP_EXCEPTIONS', '-DNODE_ADDON_API_DISABLE_DEPRECATED',
    `-DMOA_LIBMPI_SONAME="${soname}"`,
    `-I${nodeInclude}`, `-I${addonApiInclude}`, ...compileFlags,
    source, '-o', output,
    ...linkFlags, ...libDirs.map((dir) => `-Wl,-rpath,${dir}`), '-ldl',
  ];
  log(`g++ ${args.join(' ')}`);
  try {
    execFileSync('g++', args, { stdio: 'inherit' });
  } catch (error) {
    log(`compiling the MPI addon failed (${error.message}); training will run single-process`);
    process.exitCode = 0;
    return;
  }
  log(`built ${output} (libmpi ${soname})`);
}

main();
