/**
 * Kernel-level profiler: times every kernel (and tf.customGrad op) the engine runs while `fn`
 * runs, with its self time (children excluded), wall clock and process CPU time, the phase
 * (forward, or backward incl. checkpoint recomputation) and the shapes needed to count MACs.
 * Kernels of the wasm pack that call other kernels directly (below the engine) report those
 * calls as children named `Parent/Child`, so a composed kernel's own (JS) time is visible.
 *
 * Why not tf.profile: it keeps one record per kernel call in the engine and reduces them with
 * Math.max(...records), which overflows the stack on a training step (10⁵ kernels), and it
 * gives no self times for nested calls. This installs its own profiler object on the engine
 * (the hook the engine calls for every kernel when profiling) and restores it afterwards.
 */
import * as tf from '@tensorflow/tfjs-core';

export interface KernelCall {
  /** Kernel or custom-op scope name; `Parent/Child` for a pack kernel's direct sub-call. */
  name: string;
  /** Nesting depth (0 = called by model code). */
  depth: number;
  phase: 'forward' | 'backward';
  inputShapes: Array<number[] | null>;
  outputShapes: number[][];
  /** Self time (children excluded), ms. */
  wallMs: number;
  cpuMs: number;
  /** Time including children, ms. */
  totalWallMs: number;
  /** True for tf.customGrad ops (no registered kernel of that name). */
  composite: boolean;
}

export interface KernelProfile {
  calls: KernelCall[];
  /** Wall and CPU time of the whole `fn`, ms. */
  wallMs: number;
  cpuMs: number;
  /** Time spent outside any kernel (model code, engine bookkeeping, host-side computation), ms. */
  outsideWallMs: number;
  outsideCpuMs: number;
}

interface Frame {
  name: string;
  wall0: number;
  cpu0: number;
  childWall: number;
  childCpu: number;
}

const cpuNow = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

class Recorder {
  readonly calls: KernelCall[] = [];
  private readonly stack: Frame[] = [];
  topWall = 0;
  topCpu = 0;

  /** Times `f` as a call named `name` at the current depth. */
  time<T>(name: string, composite: boolean, inputShapes: Array<number[] | null>, f: () => T, outShapes: (r: T) => number[][]): T {
    const parent = this.stack[this.stack.length - 1];
    const fr: Frame = { name, wall0: performance.now(), cpu0: cpuNow(), childWall: 0, childCpu: 0 };
    this.stack.push(fr);
    let out: T;
    try {
      out = f();
    } finally {
      this.stack.pop();
    }
    const wall = performance.now() - fr.wall0;
    const cpu = cpuNow() - fr.cpu0;
    if (parent) {
      parent.childWall += wall;
      parent.childCpu += cpu;
    } else {
      this.topWall += wall;
      this.topCpu += cpu;
    }
    this.calls.push({
      name,
      depth: this.stack.length,
      phase: inBackward() ? 'backward' : 'forward',
      inputShapes,
      outputShapes: outShapes(out),
      wallMs: wall - fr.childWall,
      cpuMs: cpu - fr.childCpu,
      totalWallMs: wall,
      composite,
    });
    return out;
  }

  /** Name of the innermost call being timed (for sub-call names). */
  current(): string | undefined {
    return this.stack[this.stack.length - 1]?.name;
  }
}

function inBackward(): boolean {
  const st = (tf.engine() as unknown as { state: { scopeStack: Array<{ name: string }> } }).state;
  return st.scopeStack.some((s) => s.name === 'backward');
}

let active: Recorder | null = null;

/**
 * For kernels that call other kernels directly (the wasm pack's Scope): runs `f` as a timed
 * child `Parent/name` when a profile is recording, else just runs it.
 */
export function timeSubKernel<T extends tf.TensorInfo | tf.TensorInfo[]>(name: string, shapes: () => Array<number[] | null>, f: () => T): T {
  const r = active;
  if (!r) return f();
  const parent = r.current();
  const full = parent ? `${parent.split('/')[0]}/${name}` : name;
  return r.time(full, false, shapes(), f, (o) => (Array.isArray(o) ? o : [o]).map((t) => t.shape.slice()));
}

interface EngineInternals {
  profiler: unknown;
  state: { profiling: boolean; activeProfile: unknown };
}

/**
 * Runs `fn` (sync or async) with every kernel timed. Not re-entrant. The engine's profiling
 * switch is on meanwhile, so kernels run through the profiler hook; their outputs are not read
 * back (the wasm and cpu backends compute synchronously; on an async backend the times would be
 * dispatch times).
 */
export async function profileKernels<T>(fn: () => T | Promise<T>): Promise<{ result: T; profile: KernelProfile }> {
  if (active) throw new Error('profileKernels: a profile is already recording');
  const eng = tf.engine() as unknown as EngineInternals;
  const rec = new Recorder();
  const savedProfiler = eng.profiler;
  const savedProfiling = eng.state.profiling;
  const savedActive = eng.state.activeProfile;
  eng.profiler = {
    profileKernel(kernelName: string, inputs: Record<string, tf.TensorInfo | null>, f: () => tf.Tensor[]) {
      const composite = !tf.getKernel(kernelName, tf.getBackend());
      const shapes = Object.keys(inputs).map((k) => (inputs[k] != null ? (inputs[k] as tf.TensorInfo).shape.slice() : null));
      const outputs = rec.time(kernelName, composite, shapes, f, (o) => o.map((t) => t.shape.slice()));
      return { kernelName, outputs, inputs, timeMs: Promise.resolve(0), extraInfo: Promise.resolve('') };
    },
    logKernelProfile() {},
  };
  // The engine appends a record per kernel to activeProfile.kernels while profiling: discard them.
  eng.state.activeProfile = { kernels: { push: () => 0 }, newBytes: 0, newTensors: 0, peakBytes: 0, result: null };
  eng.state.profiling = true;
  active = rec;
  const wall0 = performance.now();
  const cpu0 = cpuNow();
  try {
    const result = await fn();
    const wallMs = performance.now() - wall0;
    const cpuMs = cpuNow() - cpu0;
    return {
      result,
      profile: { calls: rec.calls, wallMs, cpuMs, outsideWallMs: wallMs - rec.topWall, outsideCpuMs: cpuMs - rec.topCpu },
    };
  } finally {
    active = null;
    eng.profiler = savedProfiler;
    eng.state.profiling = savedProfiling;
    eng.state.activeProfile = savedActive;
  }
}
