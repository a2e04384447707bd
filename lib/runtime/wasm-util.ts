/**
 * Plumbing shared by the wasm kernel pack: a typed view of the wasm backend, access to the
 * backend's own (and the replaced, original) kernels, and a scope that frees intermediates.
 *
 * Composed kernels run below the tape: they call other kernelFuncs directly with
 * `{inputs, backend, attrs}`, so nothing they do is recorded or counted by tf.memory(); every
 * intermediate must be released with `backend.disposeData` (Reshape shares the buffer and bumps
 * its refcount, so reshapes are released too).
 */
import * as tf from '@tensorflow/tfjs-core';
import { timeSubKernel } from './kernel-profile';

export type TI = tf.TensorInfo;
export type Attrs = Record<string, unknown>;
export type Inputs = Record<string, TI> | TI[];

/** The parts of tfjs-backend-wasm's BackendWasm the pack relies on. */
export interface WasmBackend {
  dataIdMap: { get(dataId: object): { id: number; memoryOffset: number; refCount: number } | undefined; has(dataId: object): boolean };
  makeOutput(shape: number[], dtype: tf.DataType, memoryOffset?: number, values?: tf.backend_util.BackendValues): TI;
  typedArrayFromHeap(t: TI): tf.TypedArray;
  readSync(dataId: object): tf.backend_util.BackendValues;
  disposeData(dataId: object, force?: boolean): boolean;
  incRef(dataId: object): void;
  wasm: { HEAPU8: Uint8Array };
}

/** What a registered kernelFunc receives. */
export interface KernelArgs {
  inputs: Record<string, TI>;
  backend: WasmBackend;
  attrs: Attrs;
}
export type KFn = (args: KernelArgs) => TI | TI[];
type AnyKernelFunc = (args: { inputs: Inputs; backend: unknown; attrs?: Attrs }) => TI | TI[];

interface PackState {
  /** Kernels replaced by the pack, as the wasm backend shipped them (filled at registration). */
  originals: Map<string, tf.KernelConfig>;
  /** The kernelFuncs the pack registered (to recognise them: registration is idempotent). */
  registered: WeakSet<object>;
}

// Kept on globalThis so a second instance of this module (e.g. loaded through another path) sees
// the same originals instead of mistaking a pack kernel for the stock one.
const STATE_KEY = Symbol.for('propainter-ts.wasmKernelPack');
const g = globalThis as unknown as Record<symbol, PackState | undefined>;
export const packState: PackState = (g[STATE_KEY] ??= { originals: new Map(), registered: new WeakSet() });
const originals = packState.originals;

/**
 * A kernelFunc called directly from inside another kernel: timed as a child of it while a kernel
 * profile records (lib/runtime/kernel-profile.ts), so a composed kernel's own JS time shows.
 */
function timed(name: string, f: AnyKernelFunc): AnyKernelFunc {
  return (args) => timeSubKernel(name, () => shapesOf(args.inputs), () => f(args));
}

/** The wasm backend's stock kernelFunc for `name` (also for kernels the pack replaced). */
export function stockKernel(name: string): AnyKernelFunc | undefined {
  const k = originals.get(name) ?? tf.getKernel(name, 'wasm');
  return k ? timed(name, k.kernelFunc as unknown as AnyKernelFunc) : undefined;
}

/** The currently registered wasm kernelFunc for `name` (the pack's version when replaced). */
export function currentKernel(name: string): AnyKernelFunc {
  const k = tf.getKernel(name, 'wasm');
  if (!k) throw new Error(`lib/runtime/wasm-kernels: kernel ${name} is not registered for wasm`);
  return timed(name, k.kernelFunc as unknown as AnyKernelFunc);
}

export function size(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

function shapesOf(inputs: Inputs): Array<number[] | null> {
  return (Array.isArray(inputs) ? inputs : Object.values(inputs)).map((t) => (t ? t.shape.slice() : null));
}

/**
 * Runs kernels on one backend and remembers their outputs so `done()` frees all but the kept
 * ones. Use `stock` for a replaced kernel's original fast path, `run` for the current kernel.
 */
export class Scope {
  private readonly tmp: TI[] = [];
  constructor(readonly backend: WasmBackend) {}

  private track(o: TI | TI[]): TI {
    if (Array.isArray(o)) throw new Error('lib/runtime/wasm-kernels: multi-output kernel used as single');
    this.tmp.push(o);
    return o;
  }

  run(name: string, inputs: Inputs, attrs: Attrs = {}): TI {
    return this.track(currentKernel(name)({ inputs, backend: this.backend, attrs }));
  }

  stock(name: string, inputs: Inputs, attrs: Attrs = {}): TI {
    const f = stockKernel(name);
    if (!f) throw new Error(`lib/runtime/wasm-kernels: no stock wasm kernel ${name}`);
    return this.track(f({ inputs, backend: this.backend, attrs }));
  }

  /** Takes ownership of a TensorInfo produced elsewhere (freed by done() unless kept). */
  adopt(t: TI): TI {
    this.tmp.push(t);
    return t;
  }

  reshape(x: TI, shape: number[]): TI {
    if (shape.length === x.shape.length && shape.every((d, i) => d === x.shape[i])) return x;
    return this.run('Reshape', { x }, { shape });
  }

  transpose(x: TI, perm: number[]): TI {
    if (perm.every((p, i) => p === i)) return x;
    return this.run('Transpose', { x }, { perm });
  }

  /** Slice with begin/size (size −1 = to the end); a no-op slice returns x itself. */
  slice(x: TI, begin: number[], sizeArg: number[]): TI {
    const sz = sizeArg.map((s, i) => (s < 0 ? x.shape[i] - begin[i] : s));
    if (begin.every((b) => b === 0) && sz.every((s, i) => s === x.shape[i])) return x;
    return this.run('Slice', { x }, { begin, size: sz });
  }

  pad(x: TI, paddings: Array<[number, number]>): TI {
    if (paddings.every(([a, b]) => a === 0 && b === 0)) return x;
    return this.run('PadV2', { x }, { paddings, constantValue: 0 });
  }

  /** Marks `o` as the result: it survives done(). An input passed through is given a new ref. */
  keep(o: TI): TI {
    const i = this.tmp.lastIndexOf(o);
    if (i >= 0) this.tmp.splice(i, 1);
    else this.backend.incRef(o.dataId);
    return o;
  }

  done(): void {
    for (const t of this.tmp) this.backend.disposeData(t.dataId);
    this.tmp.length = 0;
  }
}

/** Runs `body` in a scope and frees its intermediates, also when it throws. */
export function scoped<T extends TI | TI[]>(backend: WasmBackend, body: (s: Scope) => T): T {
  const s = new Scope(backend);
  try {
    const out = body(s);
    if (Array.isArray(out)) out.forEach((o) => s.keep(o));
    else s.keep(out);
    return out;
  } finally {
    s.done();
  }
}

/** Heap byte offset of a tensor's data. */
export function heapOffset(backend: WasmBackend, t: TI): number {
  return backend.dataIdMap.get(t.dataId)!.memoryOffset;
}

/**
 * A float32 tensor viewing `shape` elements of `base`'s buffer from element `offset` on (no copy),
 * for handing part of a buffer to a kernel. Release it with dropView, never disposeData (which
 * would free the middle of `base`'s allocation).
 */
export function heapView(backend: WasmBackend, base: TI, offset: number, shape: number[]): TI {
  return backend.makeOutput(shape, 'float32', heapOffset(backend, base) + 4 * offset);
}

/** Forgets a heapView (the memory stays with its base tensor). */
export function dropView(backend: WasmBackend, view: TI): void {
  const be = backend as unknown as { wasm: { tfjs: { disposeData(id: number): void } }; dataIdMap: { delete(k: object): boolean } };
  const info = backend.dataIdMap.get(view.dataId);
  if (!info) return;
  be.wasm.tfjs.disposeData(info.id);
  be.dataIdMap.delete(view.dataId);
}

/** Normalises a 2-tuple-or-number attribute. */
export function pair(v: number | readonly number[] | undefined, dflt = 1): [number, number] {
  if (v === undefined || v === null) return [dflt, dflt];
  return typeof v === 'number' ? [v, v] : [v[0], v[1]];
}
