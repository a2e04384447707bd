/**
 * Averaging (or broadcasting) a set of named tensors across ranks in a few large calls: the tensors
 * are packed, in the order of their names, into float32 buckets of at most `bucketFloats`
 * elements, each bucket is one collective, and the results are unpacked into new tensors. A
 * ProPainter step (39 M generator + 4.5 M discriminator parameters) is then three calls, not one
 * per parameter.
 */
import * as tf from '@tensorflow/tfjs-core';
import { copyFloatsInto } from '../runtime/host-copy';
import type { Communicator } from './communicator';

/** 16 M floats (64 MiB) per call: big enough to amortise each call's latency, a few per step. */
export const DEFAULT_BUCKET_FLOATS = 1 << 24;

export interface Bucket {
  names: string[];
  floats: number;
}

/** Consecutive names (sorted) grouped so no bucket passes `maxFloats` unless one tensor alone does. */
export function planBuckets(sizes: ReadonlyArray<readonly [string, number]>, maxFloats = DEFAULT_BUCKET_FLOATS): Bucket[] {
  const buckets: Bucket[] = [];
  let cur: Bucket | null = null;
  for (const [name, n] of [...sizes].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))) {
    if (!cur || (cur.floats > 0 && cur.floats + n > maxFloats)) {
      cur = { names: [], floats: 0 };
      buckets.push(cur);
    }
    cur.names.push(name);
    cur.floats += n;
  }
  return buckets;
}

/** FNV-1a of the names and shapes, so ranks can check they exchange the same tensors. */
function signature(names: readonly string[], tensors: tf.NamedTensorMap): number {
  let h = 0x811c9dc5;
  for (const n of names) {
    const s = `${n}:${tensors[n].shape.join('x')};`;
    for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  }
  return h;
}

export interface BucketOptions {
  bucketFloats?: number;
}

/**
 * Bucket buffers kept between calls, by tensor-set signature (a few sets: a generator's and a
 * discriminator's gradients). Writing into memory already touched is ~40× cheaper than into a
 * fresh 64 MiB array (page faults: 0.5 s of CPU per ProPainter step against 15 ms, measured).
 * Only on wasm, whose uploads copy into its heap; the cpu and tensorflow backends keep the
 * arrays given to tf.tensor, so they get fresh buffers.
 */
const kept = new Map<number, Float32Array[]>();
const KEEP_SETS = 4;

function buffers(sig: number, buckets: readonly Bucket[]): Float32Array[] {
  if (tf.getBackend() !== 'wasm') return buckets.map((b) => new Float32Array(b.floats));
  const old = kept.get(sig);
  if (old && old.length === buckets.length && old.every((a, i) => a.length === buckets[i].floats)) return old;
  const fresh = buckets.map((b) => new Float32Array(b.floats));
  kept.delete(sig);
  kept.set(sig, fresh);
  if (kept.size > KEEP_SETS) kept.delete(kept.keys().next().value as number);
  return fresh;
}

function exchange(comm: Communicator, tensors: tf.NamedTensorMap, op: 'mean' | 'broadcast', opts: BucketOptions): tf.NamedTensorMap {
  const names = Object.keys(tensors).sort();
  for (const n of names) {
    if (tensors[n].dtype !== 'float32') throw new Error(`${n}: a ${tensors[n].dtype} tensor; only float32 tensors are averaged or broadcast`);
  }
  const out: tf.NamedTensorMap = {};
  if (comm.size === 1) {
    for (const n of names) out[n] = tf.clone(tensors[n]);
    return out;
  }
  // Different tensor sets would pair up the wrong numbers (or deadlock on different call counts).
  const sig = signature(names, tensors);
  const mine = new Uint8Array(4);
  new DataView(mine.buffer).setUint32(0, sig, true);
  const root = mine.slice();
  comm.broadcast(root);
  if (root.some((b, i) => b !== mine[i])) {
    throw new Error(`rank ${comm.rank}: its ${names.length} tensors differ from rank 0's in names or shapes`);
  }
  const plan = planBuckets(names.map((n) => [n, tensors[n].size] as const), opts.bucketFloats);
  const bufs = buffers(sig, plan);
  for (const [i, b] of plan.entries()) {
    const buf = bufs[i];
    if (op === 'mean' || comm.rank === 0) {
      let o = 0;
      for (const n of b.names) {
        copyFloatsInto(tensors[n], buf, o);
        o += tensors[n].size;
      }
    }
    if (op === 'mean') comm.allreduceMean(buf);
    else comm.broadcast(buf);
    let o = 0;
    for (const n of b.names) {
      const size = tensors[n].size;
      out[n] = tf.tensor(buf.subarray(o, o + size), tensors[n].shape, 'float32');
      o += size;
    }
  }
  return out;
}

/**
 * The element-wise mean over ranks of every tensor (e.g. gradients keyed by parameter name), as
 * new tensors under the same names; the inputs stay as they are (the caller disposes them).
 * Every rank passes the same names and shapes.
 */
export function allreduceMeanTensors(comm: Communicator, tensors: tf.NamedTensorMap, opts: BucketOptions = {}): tf.NamedTensorMap {
  return exchange(comm, tensors, 'mean', opts);
}

/** Rank 0's values of every tensor (e.g. initial weights), as new tensors on every rank. */
export function broadcastTensors(comm: Communicator, tensors: tf.NamedTensorMap, opts: BucketOptions = {}): tf.NamedTensorMap {
  return exchange(comm, tensors, 'broadcast', opts);
}
