/** Small helpers shared by the ops: gradient-free evaluation and constant index tensors. */
import * as tf from '@tensorflow/tfjs-core';
// tfjs-core alone registers no gradients; every op here is meant to be differentiated.
import '@tensorflow/tfjs-core/dist/register_all_gradients';

/**
 * Evaluates `f` as one customGrad node whose gradient is zero for every input. Comparisons,
 * rounding and other non-differentiable ops inside `f` then never reach the tape, so a mask
 * computed from trainable tensors cannot make backprop throw (tfjs has no stop-gradient).
 */
export function noGrad<T extends tf.Tensor>(f: (...xs: tf.Tensor[]) => T, ...xs: tf.Tensor[]): T {
  const shapes = xs.map((x) => x.shape.slice());
  const op = tf.customGrad(((...args: unknown[]) => {
    const inputs = args.slice(0, xs.length) as tf.Tensor[];
    return { value: f(...inputs), gradFunc: () => shapes.map((s) => tf.zeros(s)) };
  }) as any) as (...ts: tf.Tensor[]) => T;
  return op(...xs);
}

/** int32 [n, 1] index tensor for gatherND / scatterND row addressing. */
export function rowIndex(idx: Int32Array): tf.Tensor2D {
  return tf.tensor2d(idx, [idx.length, 1], 'int32');
}

/** Product of a shape. */
export function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Bounded cache for host-side index tables keyed by geometry. */
export class TableCache<V> {
  private readonly map = new Map<string, V>();
  constructor(private readonly limit = 32) {}
  get(key: string, make: () => V): V {
    let v = this.map.get(key);
    if (v === undefined) {
      v = make();
      if (this.map.size >= this.limit) this.map.delete(this.map.keys().next().value as string);
      this.map.set(key, v);
    }
    return v;
  }
}

/**
 * Row gather `table[idx]` (idx constant, int32 [K, 1]) whose gradient is the matching
 * scatter-add; tfjs has no gradient for gatherND.
 */
export function gatherRows(table: tf.Tensor2D, idx: tf.Tensor2D): tf.Tensor2D {
  const rows = table.shape[0];
  // idx goes through save(): the caller's tidy may dispose it before backprop runs.
  const op = tf.customGrad(((t: tf.Tensor2D, save: tf.GradSaveFunc) => {
    save([idx]);
    return {
      value: tf.gatherND(t, idx) as tf.Tensor2D,
      gradFunc: (dy: tf.Tensor2D, saved: tf.Tensor[]) => tf.scatterND(saved[0], dy, [rows, dy.shape[1]]),
    };
  }) as any) as (t: tf.Tensor2D) => tf.Tensor2D;
  return op(table);
}

/** Row scatter-add of `values` ([K, M]) into `rows` rows at constant idx; gradient = gather. */
export function scatterRows(values: tf.Tensor2D, idx: tf.Tensor2D, rows: number): tf.Tensor2D {
  const op = tf.customGrad(((v: tf.Tensor2D, save: tf.GradSaveFunc) => {
    save([idx]);
    return {
      value: tf.scatterND(idx, v, [rows, v.shape[1]]) as tf.Tensor2D,
      gradFunc: (dy: tf.Tensor2D, saved: tf.Tensor[]) => tf.gatherND(dy, saved[0]),
    };
  }) as any) as (v: tf.Tensor2D) => tf.Tensor2D;
  return op(values);
}
