/**
 * Benchmark helpers: timing (warm-up, best-of-N and median), GFLOP/s formatting and memory
 * reporting (tf.memory() and, on wasm, the heap, which never shrinks).
 */
import * as tf from '@tensorflow/tfjs-core';

export interface Timing {
  /** Fastest run, ms. */
  best: number;
  /** Median run, ms. */
  median: number;
  runs: number[];
}

export interface TimeOptions {
  /** Untimed runs first (operator creation, heap growth). Default 1. */
  warmup?: number;
  /** Timed runs. Default 5. */
  reps?: number;
}

/**
 * Times `fn` (sync or async). A returned tensor (or array of tensors) is read back — so lazy
 * backends finish — and disposed; everything else `fn` allocates is tidied.
 */
export async function time(fn: () => unknown, opts: TimeOptions = {}): Promise<Timing> {
  const warmup = opts.warmup ?? 1;
  const reps = Math.max(1, opts.reps ?? 5);
  const once = async (): Promise<number> => {
    const t0 = performance.now();
    const out = tf.tidy(() => fn() as tf.TensorContainer);
    const ts = tensorsOf(out);
    // Reading one element forces completion without copying the whole result.
    for (const t of ts) {
      if (t.size === 0) continue;
      const one = t.rank === 0 ? t.clone() : t.slice(new Array<number>(t.rank).fill(0), new Array<number>(t.rank).fill(1));
      await one.data();
      one.dispose();
    }
    const ms = performance.now() - t0;
    tf.dispose(ts);
    return ms;
  };
  for (let i = 0; i < warmup; i++) await once();
  const runs: number[] = [];
  for (let i = 0; i < reps; i++) runs.push(await once());
  const sorted = [...runs].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  return { best: sorted[0], median, runs };
}

function tensorsOf(x: unknown): tf.Tensor[] {
  if (x instanceof tf.Tensor) return [x];
  if (Array.isArray(x)) return x.flatMap(tensorsOf);
  if (x && typeof x === 'object') return Object.values(x).flatMap(tensorsOf);
  return [];
}

/** "123.4 ms" / "1.23 s". */
export function fmtMs(ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(ms < 10 ? 2 : 1)} ms`;
}

/** GFLOP/s of `flop` floating-point operations done in `ms`. */
export function gflops(flop: number, ms: number): number {
  return flop / ms / 1e6;
}

export function fmtGflops(flop: number, ms: number): string {
  const g = gflops(flop, ms);
  return `${g.toFixed(g < 10 ? 2 : 1)} GF/s`;
}

/** "1.23 GB/s" for `bytes` moved in `ms`. */
export function fmtBandwidth(bytes: number, ms: number): string {
  const g = bytes / ms / 1e6;
  return g >= 1 ? `${g.toFixed(2)} GB/s` : `${(g * 1000).toFixed(0)} MB/s`;
}

/**
 * "best 12.3 ms (median 13.1 ms)  19.9 GF/s" — the rate uses the best run; `work` is FLOPs, or
 * bytes moved with `unit: 'bytes'`.
 */
export function fmtTiming(t: Timing, work?: number, unit: 'flop' | 'bytes' = 'flop'): string {
  const rate = work ? `  ${(unit === 'flop' ? fmtGflops(work, t.best) : fmtBandwidth(work, t.best)).padStart(11)}` : '';
  return `best ${fmtMs(t.best).padStart(9)} (median ${fmtMs(t.median)})${rate}`;
}

export function fmtBytes(n: number): string {
  if (n >= 1024 ** 3) return `${(n / 1024 ** 3).toFixed(2)} GiB`;
  if (n >= 1024 ** 2) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${n} B`;
}

/** Size of the wasm heap in bytes (its high-water mark: it never shrinks), or null off wasm. */
export function wasmHeapBytes(): number | null {
  if (tf.getBackend() !== 'wasm') return null;
  const be = tf.backend() as unknown as { wasm?: { HEAPU8?: Uint8Array } };
  return be.wasm?.HEAPU8?.length ?? null;
}

/** One line: live tensors and bytes (tf.memory()) and, on wasm, the heap size. */
export function memoryReport(): string {
  const m = tf.memory();
  const heap = wasmHeapBytes();
  return `tf.memory: ${m.numTensors} tensors, ${fmtBytes(m.numBytes)}` + (heap !== null ? `; wasm heap ${fmtBytes(heap)}` : '');
}

export interface PeakMemory {
  /** Peak bytes of live tensors while `fn` ran (tf.profile; kernel-internal temporaries excluded). */
  peakBytes: number;
  /** Bytes still allocated by `fn` afterwards (should be 0 for a tidy computation). */
  newBytes: number;
  /** Wasm heap size after the run (high-water mark), or null off wasm. */
  heapBytes: number | null;
}

/** Runs `fn` once under tf.profile and reports its peak memory; returned tensors are disposed. */
export async function peakMemory(fn: () => unknown): Promise<PeakMemory> {
  const info = await tf.profile(() => tf.tidy(() => fn() as tf.TensorContainer));
  tf.dispose(tensorsOf(info.result));
  return { peakBytes: info.peakBytes, newBytes: info.newBytes, heapBytes: wasmHeapBytes() };
}

export function fmtPeak(p: PeakMemory): string {
  return `peak tensors ${fmtBytes(p.peakBytes)}` + (p.heapBytes !== null ? `, wasm heap ${fmtBytes(p.heapBytes)}` : '');
}

/** Parses `--name value`, `--name=value` and `--flag` arguments (a flag is not followed by a value). */
export function parseArgs(args: string[]): { flags: Set<string>; values: Map<string, string>; rest: string[] } {
  const flags = new Set<string>();
  const values = new Map<string, string>();
  const rest: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (!a.startsWith('--')) {
      rest.push(a);
      continue;
    }
    const eq = a.indexOf('=');
    if (eq > 0) values.set(a.slice(2, eq), a.slice(eq + 1));
    else if (i + 1 < args.length && !args[i + 1].startsWith('--')) values.set(a.slice(2), args[++i]);
    else flags.add(a.slice(2));
  }
  return { flags, values, rest };
}
