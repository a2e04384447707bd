/**
 * XNNPACK's threadpool on Node: tfjs-backend-wasm 4.22 ships a threaded-SIMD build but refuses
 * it on Node (WASM_HAS_MULTITHREAD_SUPPORT is false there, tfjs issue 3830) because its loader
 * hands the pthread workers Blob URLs, which Node's worker_threads cannot start. While the backend
 * initialises, this shim (tfjs-backends.md §4):
 *   - remembers the text of the Blobs the loader creates and turns `URL.createObjectURL(blob)`
 *     into a temporary .js file (the worker script);
 *   - gives `worker_threads.Worker` a subclass whose `postMessage` replaces the main-script Blob
 *     by such a file, prefixed with the bundle-local names the stringified factory refers to
 *     (its require$$N modules, commonjsGlobal and three TypeScript helpers);
 *   - reports enough logical cores that the C++ side (which caps the pool at cores / 2) grants
 *     the requested count.
 * Everything is restored once the backend is up; the pool's workers are then unref'd so they
 * never keep the process alive. It depends on the bundle's internals, so it runs only for the
 * pinned version and when every marker it relies on is present; otherwise the backend starts
 * single-threaded and `threadsNote` says why.
 * Thread count: PROPAINTER_THREADS (a positive integer or `auto` = logical cores; default 1, the
 * stock single-threaded build, which is what tests and one-thread MPI ranks get).
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';

/** The tfjs-backend-wasm version whose bundle this shim was written against. */
export const THREADS_PINNED_VERSION = '4.22.0';

/** Strings of the wasm bundle the shim relies on (checked before it is used). */
const BUNDLE_MARKERS = [
  "var require$$0 = require('fs');",
  "var require$$1 = require('path');",
  "var require$$3 = require('perf_hooks');",
  "var require$$4 = require('os');",
  'commonjsGlobal.Worker = nodeWorkerThreads.Worker;',
  'factoryConfig.mainScriptUrlOrBlob = new Blob(["var WasmBackendModuleThreadedSimd = " +',
  'return URL.createObjectURL(blob);',
  '"urlOrBlob": Module["mainScriptUrlOrBlob"] || _scriptDir',
  'return require$$4.cpus().length;',
];

/** Threads asked for by PROPAINTER_THREADS (or `explicit`): 1 when unset. */
export function requestedThreads(explicit?: number | 'auto'): number {
  const env = process.env.PROPAINTER_THREADS;
  const v: string | number | undefined = explicit ?? (env && env.trim().length > 0 ? env.trim() : undefined);
  if (v === undefined) return 1;
  if (v === 'auto') return Math.max(1, os.cpus().length);
  const n = typeof v === 'number' ? v : Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`PROPAINTER_THREADS=${v} is not a thread count; use a positive integer or auto`);
  return n;
}

function wasmPackageDir(): string {
  return path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json'));
}

/** Why the shim cannot run here, or null when it can. */
export function threadShimUnsupported(): string | null {
  let version: string;
  let bundle: string;
  try {
    const dir = wasmPackageDir();
    version = (JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { version: string }).version;
    bundle = fs.readFileSync(path.join(dir, 'dist', 'tf-backend-wasm.node.js'), 'utf8');
    if (!fs.existsSync(path.join(dir, 'dist', 'tfjs-backend-wasm-threaded-simd.wasm'))) return 'the threaded-SIMD .wasm file is missing';
  } catch (e) {
    return `cannot read @tensorflow/tfjs-backend-wasm (${(e as Error).message})`;
  }
  if (version !== THREADS_PINNED_VERSION) return `@tensorflow/tfjs-backend-wasm ${version} is not the pinned ${THREADS_PINNED_VERSION}`;
  const missing = BUNDLE_MARKERS.find((m) => !bundle.includes(m));
  if (missing) return `the wasm bundle lacks "${missing.slice(0, 40)}…"`;
  if (typeof SharedArrayBuffer === 'undefined') return 'SharedArrayBuffer is not available';
  return null;
}

/**
 * Names the stringified factory uses from the bundle's scope, defined for the pthread workers
 * (the helpers only need to handle arrays and Map/Object value lists there).
 */
const FACTORY_PRELUDE = [
  "var require$$0 = require('fs'), require$$1 = require('path'), require$$3 = require('perf_hooks'), require$$4 = require('os');",
  'var commonjsGlobal = globalThis;',
  'var __values = function (o) { return o[Symbol.iterator](); };',
  'var __read = function (o, n) { var a = []; for (var v of o) { if (n !== undefined && a.length >= n) break; a.push(v); } return a; };',
  'var __spreadArray = function (to, from) { return to.concat(Array.from(from)); };',
].join('\n');

interface Patched {
  restore(): void;
}

/** Replaces `obj[key]` until restore(). */
function patch<T extends object, K extends keyof T>(obj: T, key: K, value: T[K], undo: Array<() => void>): void {
  const desc = Object.getOwnPropertyDescriptor(obj, key);
  Object.defineProperty(obj, key, { value, writable: true, configurable: true, enumerable: desc?.enumerable ?? true });
  undo.push(() => {
    if (desc) Object.defineProperty(obj, key, desc);
    else delete obj[key];
  });
}

let tmpDir: string | null = null;

function scriptFile(name: string, text: string): string {
  tmpDir ??= fs.mkdtempSync(path.join(os.tmpdir(), 'propainter-wasm-threads-'));
  const f = path.join(tmpDir, name);
  fs.writeFileSync(f, text);
  return f;
}

/** Removes the temporary scripts (the workers have read them by the time the backend is up). */
function removeScripts(): void {
  if (!tmpDir) return;
  fs.rmSync(tmpDir, { recursive: true, force: true });
  tmpDir = null;
}

/**
 * Installs the shim for a backend initialisation with `threads` threads. Call restore() once
 * tf.setBackend('wasm') has settled (successfully or not).
 */
export function installThreadShim(threads: number): Patched {
  const undo: Array<() => void> = [];
  const texts = new WeakMap<object, string>();
  const wt = require('worker_threads') as typeof import('worker_threads') & Record<string, unknown>;
  const BaseBlob = globalThis.Blob;
  // Blob parts are strings here (the loader's worker script and main script).
  class TextBlob extends BaseBlob {
    constructor(parts?: ConstructorParameters<typeof Blob>[0], opts?: ConstructorParameters<typeof Blob>[1]) {
      super(parts ?? [], opts);
      if (parts && parts.every((p) => typeof p === 'string')) texts.set(this, (parts as string[]).join(''));
    }
  }
  patch(globalThis, 'Blob', TextBlob as typeof Blob, undo);
  let n = 0;
  patch(URL, 'createObjectURL', ((blob: Blob) => {
    const t = texts.get(blob);
    if (t === undefined) throw new Error('wasm threads shim: createObjectURL of an unknown Blob');
    return scriptFile(`worker-${n++}.js`, t);
  }) as typeof URL.createObjectURL, undo);
  let mainScript: string | null = null;
  const BaseWorker = wt.Worker;
  class FileWorker extends BaseWorker {
    override postMessage(msg: unknown, transfer?: Parameters<InstanceType<typeof wt.Worker>['postMessage']>[1]): void {
      const m = msg as { urlOrBlob?: unknown } | null;
      if (m && typeof m === 'object' && m.urlOrBlob instanceof BaseBlob) {
        const t = texts.get(m.urlOrBlob);
        if (t === undefined) throw new Error('wasm threads shim: the main script Blob was not seen');
        mainScript ??= scriptFile('main.js', `${FACTORY_PRELUDE}\nvar _scriptDir = ${JSON.stringify(path.join(tmpDir ?? '', 'main.js'))};\n${t}`);
        msg = { ...m, urlOrBlob: mainScript };
      }
      super.postMessage(msg, transfer);
    }
  }
  patch(wt, 'Worker', FileWorker as unknown as typeof wt.Worker, undo);
  // The C++ side grants at most (logical cores / 2) threads. (The module object itself: an
  // `import * as` namespace is frozen.)
  const osModule = require('os') as typeof os;
  const realCpus = osModule.cpus;
  patch(osModule, 'cpus', (() => {
    const c = realCpus();
    return Array.from({ length: Math.max(c.length, 2 * threads) }, (_, i) => c[i % c.length]);
  }) as typeof os.cpus, undo);
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', true);
  (require('@tensorflow/tfjs-backend-wasm') as { setThreadsCount(n: number): void }).setThreadsCount(threads);
  return {
    restore: () => {
      for (const u of undo.reverse()) u();
    },
  };
}

interface PThreadModule {
  PThread?: { runningWorkers: Array<{ unref(): void }>; unusedWorkers: Array<{ unref(): void }> };
}

/**
 * After a threaded initialisation: lets the pool's workers die with the process (they wait on a
 * futex forever and would otherwise keep it alive), deletes the temporary scripts and returns the
 * thread count XNNPACK got.
 */
export function finishThreadedInit(backend: unknown): number {
  const mod = (backend as { wasm?: PThreadModule }).wasm;
  for (const w of [...(mod?.PThread?.runningWorkers ?? []), ...(mod?.PThread?.unusedWorkers ?? [])]) w.unref();
  removeScripts();
  return (require('@tensorflow/tfjs-backend-wasm') as { getThreadsCount(): number }).getThreadsCount();
}

/** Undoes installThreadShim's flag after a failed threaded start, so a retry loads the plain build. */
export function abandonThreadedInit(): void {
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
  (require('@tensorflow/tfjs-backend-wasm') as { setThreadsCount(n: number): void }).setThreadsCount(-1);
  removeScripts();
}
