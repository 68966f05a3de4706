// TF.js WASM threads under a Content-Security-Policy without blob: in script-src.
//
// tfjs-backend-wasm 4.22 starts each pthread worker from a blob: URL (Emscripten's worker script, made into a
// Blob by its locateFile; hence `worker-src 'self' blob:`), then posts it {cmd: 'load', urlOrBlob} where
// urlOrBlob is a Blob of the threaded module's source (`wasmFactoryThreadedSimd.toString()`), which the pthread
// loads with importScripts(URL.createObjectURL(blob)). A blob: worker inherits the engine worker's policy, and
// importScripts(blob:) needs `script-src blob:`: a way to run any string as script, which our policy refuses.
// Emscripten's worker imports a string URL as is, so the pthreads are handed the same module as a file from our
// origin (emitted by Vite, precached for offline use like the WASM binaries): script-src 'self' suffices.
import threadedSimdScriptUrl from '@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.js?url';

/** The threaded SIMD module's script (defines WasmBackendModuleThreadedSimd), as Vite serves or emits it. */
export const WASM_THREAD_SCRIPT_URL: string = threadedSimdScriptUrl;

interface PthreadLoadMessage {
  cmd: 'load';
  urlOrBlob: unknown;
}

function isPthreadLoad(message: unknown): message is PthreadLoadMessage {
  return typeof message === 'object' && message !== null && (message as { cmd?: unknown }).cmd === 'load' && (message as { urlOrBlob?: unknown }).urlOrBlob instanceof Blob;
}

let installed = false;

/**
 * From now on, a {cmd: 'load', urlOrBlob: Blob} message posted to a Worker (only TF.js's pthreads get one)
 * names the threaded module's same-origin URL instead of the Blob. Idempotent.
 */
export function loadPthreadsFromOrigin(scope: { Worker: typeof Worker; location: { href: string } } = self): void {
  if (installed || typeof scope.Worker !== 'function') return;
  installed = true;
  const url = new URL(WASM_THREAD_SCRIPT_URL, scope.location.href).href;
  const proto = scope.Worker.prototype;
  const post = proto.postMessage as (this: Worker, message: unknown, ...rest: unknown[]) => void;
  proto.postMessage = function (this: Worker, message: unknown, ...rest: unknown[]) {
    return post.call(this, isPthreadLoad(message) ? { ...message, urlOrBlob: url } : message, ...rest);
  } as Worker['postMessage'];
}
