/**
 * TF.js runtime: one call initialises TensorFlow.js and picks the backend.
 *
 * Order: @tensorflow/tfjs-node-gpu → @tensorflow/tfjs-node → wasm (+ our training kernel pack) → cpu.
 * The native flavours are optionalDependencies whose install script downloads libtensorflow; on a
 * machine without internet the package is half-installed, so we only `require` one whose binding
 * file exists (otherwise it registers kernels and then throws).
 * `PROPAINTER_BACKEND=tensorflow|wasm|cpu` overrides; an unavailable request is an error.
 * On wasm, `PROPAINTER_THREADS` (or `threads`) > 1 starts the threaded-SIMD build with XNNPACK's
 * threadpool (./wasm-threads.ts); the thread count is fixed for the process once wasm is up.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
// Method-style ops (x.add(y)) for notebook users; library code uses the functional tf.* form.
import '@tensorflow/tfjs-core/dist/public/chained_ops/register_all_chained_ops';
// tfjs-core registers no gradients by itself; training needs them on every backend.
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import { abandonThreadedInit, finishThreadedInit, installThreadShim, requestedThreads, threadShimUnsupported } from './wasm-threads';

export type BackendName = 'tensorflow' | 'wasm' | 'cpu';
const BACKENDS: readonly BackendName[] = ['tensorflow', 'wasm', 'cpu'];
const NATIVE_PACKAGES = ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'] as const;

export interface RuntimeInfo {
  backend: BackendName;
  /** npm package providing the backend. */
  flavour: string;
  /** True when tfjs-node-gpu found and uses a CUDA device. */
  gpu: boolean;
  tfjsVersion: string;
  nodeVersion: string;
  /** True when the wasm training kernel pack is registered (wasm backend only). */
  wasmKernelPack: boolean;
  /** XNNPACK threads of the wasm backend (1 elsewhere). */
  threads: number;
  /** Why fewer threads run than were asked for, if so. */
  threadsNote?: string;
}

let nativeLoaded: string | null = null;
let wasmLoaded = false;
let cpuLoaded = false;
let current: RuntimeInfo | null = null;
/** Threads of the wasm backend once initialised (it cannot be restarted with another count). */
let wasmThreads: { threads: number; note?: string } | null = null;

function packageDir(pkg: string): string | null {
  try {
    return path.dirname(require.resolve(`${pkg}/package.json`));
  } catch {
    return null;
  }
}

/** Path of a native flavour's binding file, or null when the package is absent or half-installed. */
export function nativeBindingPath(pkg: string): string | null {
  const dir = packageDir(pkg);
  if (!dir) return null;
  const lib = path.join(dir, 'lib');
  if (!fs.existsSync(lib)) return null;
  for (const d of fs.readdirSync(lib)) {
    if (!d.startsWith('napi-v')) continue;
    const f = path.join(lib, d, 'tfjs_binding.node');
    if (fs.existsSync(f)) return f;
  }
  return null;
}

/** Which native flavours have a binding file (installable here or not). */
export function availableNativeFlavours(): string[] {
  return NATIVE_PACKAGES.filter((p) => nativeBindingPath(p) !== null);
}

function loadNative(): string | null {
  if (nativeLoaded) return nativeLoaded;
  for (const pkg of NATIVE_PACKAGES) {
    if (!nativeBindingPath(pkg)) continue;
    try {
      require(pkg);
      nativeLoaded = pkg;
      return pkg;
    } catch {
      // Binding present but unloadable (e.g. CUDA libraries missing): try the next flavour.
    }
  }
  return null;
}

function loadWasm(): void {
  if (wasmLoaded) return;
  require('@tensorflow/tfjs-backend-wasm');
  wasmLoaded = true;
}

function loadCpu(): void {
  if (cpuLoaded) return;
  require('@tensorflow/tfjs-backend-cpu');
  cpuLoaded = true;
}

function requestedBackend(explicit?: BackendName): BackendName | undefined {
  const env = process.env.PROPAINTER_BACKEND;
  const want = explicit ?? (env && env.length > 0 ? (env as BackendName) : undefined);
  if (want !== undefined && !BACKENDS.includes(want)) {
    const what = explicit !== undefined ? `backend "${want}"` : `PROPAINTER_BACKEND=${want}`;
    throw new Error(`${what} is not a backend; use one of ${BACKENDS.join(', ')}`);
  }
  return want;
}

/**
 * Activates a backend (loading its package on first use) and returns what is running.
 * Tests call this to switch between cpu and wasm within one process.
 */
export async function useBackend(name: BackendName, opts: { threads?: number | 'auto' } = {}): Promise<RuntimeInfo> {
  let flavour: string;
  if (name === 'tensorflow') {
    const pkg = loadNative();
    if (!pkg) {
      throw new Error(
        'backend "tensorflow" requested but neither @tensorflow/tfjs-node-gpu nor @tensorflow/tfjs-node ' +
          'is installed with its binding (lib/napi-v*/tfjs_binding.node). On a machine with internet run ' +
          '`npm install @tensorflow/tfjs-node` (or -gpu), or unset PROPAINTER_BACKEND.',
      );
    }
    flavour = pkg;
  } else if (name === 'wasm') {
    loadWasm();
    flavour = '@tensorflow/tfjs-backend-wasm';
  } else {
    loadCpu();
    flavour = '@tensorflow/tfjs-backend-cpu';
  }
  // PROD silences tfjs' "install tfjs-node" console banner; we report the backend ourselves.
  tf.env().set('PROD', true);
  const before = {
    uncaughtException: process.listeners('uncaughtException'),
    unhandledRejection: process.listeners('unhandledRejection'),
  };
  if (name === 'wasm' && !wasmThreads) wasmThreads = await startWasm(requestedThreads(opts.threads));
  const ok = await tf.setBackend(name);
  if (!ok) throw new Error(`TF.js backend "${name}" failed to initialise`);
  await tf.ready();
  // The emscripten wasm module installs process handlers that rethrow every uncaught error
  // after printing its whole minified source; remove them so errors read normally.
  for (const l of process.listeners('uncaughtException')) {
    if (!before.uncaughtException.includes(l)) process.removeListener('uncaughtException', l);
  }
  for (const l of process.listeners('unhandledRejection')) {
    if (!before.unhandledRejection.includes(l)) process.removeListener('unhandledRejection', l);
  }
  let wasmKernelPack = false;
  if (name === 'wasm') {
    // Loaded lazily so native/cpu runs never touch wasm kernel registrations.
    const { registerWasmKernelPack } = require('./wasm-kernels') as typeof import('./wasm-kernels');
    wasmKernelPack = registerWasmKernelPack();
  }
  const be = tf.backend() as unknown as { isUsingGpuDevice?: boolean };
  current = {
    backend: name,
    flavour,
    gpu: name === 'tensorflow' && be.isUsingGpuDevice === true,
    tfjsVersion: tf.version_core,
    nodeVersion: process.versions.node,
    wasmKernelPack,
    threads: name === 'wasm' ? wasmThreads!.threads : 1,
    threadsNote: name === 'wasm' ? wasmThreads!.note : undefined,
  };
  return current;
}

/**
 * First initialisation of the wasm backend, threaded when asked for and possible; a threaded start
 * that fails falls back to the single-threaded build with a note.
 */
async function startWasm(threads: number): Promise<{ threads: number; note?: string }> {
  if (threads <= 1) return { threads: 1 };
  const why = threadShimUnsupported();
  if (why) return { threads: 1, note: `${threads} threads asked for, running 1: ${why}` };
  const shim = installThreadShim(threads);
  let ok = false;
  try {
    ok = await tf.setBackend('wasm');
  } catch {
    ok = false;
  } finally {
    shim.restore();
  }
  if (!ok) {
    // The registered factory runs again on the next setBackend, then with the plain SIMD build.
    abandonThreadedInit();
    return { threads: 1, note: `${threads} threads asked for, running 1: the threaded wasm build failed to start` };
  }
  const got = finishThreadedInit(tf.backend());
  return got >= threads ? { threads: got } : { threads: got, note: `${threads} threads asked for, XNNPACK runs ${got}` };
}

/**
 * Initialises TF.js once: the backend named by `backend` or PROPAINTER_BACKEND, else the best
 * available (tensorflow → wasm → cpu). Calling it again returns the active runtime unless a
 * different backend is asked for.
 */
export async function initRuntime(opts: { backend?: BackendName; threads?: number | 'auto' } = {}): Promise<RuntimeInfo> {
  const want = requestedBackend(opts.backend);
  requestedThreads(opts.threads); // a bad PROPAINTER_THREADS is an error, not a silent cpu fallback
  if (current && (want === undefined || want === current.backend)) return current;
  if (want) return useBackend(want, opts);
  if (loadNative()) return useBackend('tensorflow', opts);
  try {
    return await useBackend('wasm', opts);
  } catch {
    return useBackend('cpu', opts);
  }
}

/** The active runtime, or null before initRuntime. */
export function runtimeInfo(): RuntimeInfo | null {
  return current;
}
