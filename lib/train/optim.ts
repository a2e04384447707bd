/**
 * Adam with PyTorch's exact update (torch.optim.Adam: L2 weight decay added to the gradient,
 * bias corrections, eps outside the square root), state that can be saved and restored, and
 * global-norm gradient clipping. The learning rate is passed per step (schedules are functions
 * of the step).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { HostTensor, StateDict } from '../io/host-tensor';

export interface AdamOptions {
  beta1: number;
  beta2: number;
  eps?: number;
  weightDecay?: number;
}

export class Adam {
  private readonly m = new Map<string, tf.Variable>();
  private readonly v = new Map<string, tf.Variable>();
  step = 0;

  constructor(readonly params: Array<[string, tf.Variable]>, readonly opts: AdamOptions) {
    for (const [name, p] of params) {
      // Inside tidy: tf.variable keeps its own reference, the zerosLike temporaries are released.
      this.m.set(name, tf.tidy(() => tf.variable(tf.zerosLike(p), false)));
      this.v.set(name, tf.tidy(() => tf.variable(tf.zerosLike(p), false)));
    }
  }

  /** Applies one update with learning rate `lr`; gradients keyed by parameter name. */
  apply(grads: Map<string, tf.Tensor>, lr: number): void {
    this.step += 1;
    const { beta1: b1, beta2: b2 } = this.opts;
    const eps = this.opts.eps ?? 1e-8;
    const wd = this.opts.weightDecay ?? 0;
    const bc1 = 1 - Math.pow(b1, this.step);
    const bc2 = 1 - Math.pow(b2, this.step);
    const stepSize = lr / bc1;
    const sqrtBc2 = Math.sqrt(bc2);
    for (const [name, p] of this.params) {
      const g0 = grads.get(name);
      if (!g0) continue;
      tf.tidy(() => {
        const g = wd ? tf.add(g0, tf.mul(p, wd)) : g0;
        const m = this.m.get(name)!;
        const v = this.v.get(name)!;
        m.assign(tf.add(tf.mul(m, b1), tf.mul(g, 1 - b1)));
        v.assign(tf.add(tf.mul(v, b2), tf.mul(tf.square(g), 1 - b2)));
        const denom = tf.add(tf.div(tf.sqrt(v), sqrtBc2), eps);
        p.assign(tf.sub(p, tf.mul(tf.div(m, denom), stepSize)));
      });
    }
  }

  /** Moments (TF.js layout, keyed `exp_avg.<name>` / `exp_avg_sq.<name>`) and the step count. */
  stateDict(): StateDict {
    const out: StateDict = new Map();
    const host = (t: tf.Tensor): HostTensor => ({ dtype: 'float32', shape: t.shape.slice(), data: Float32Array.from(t.dataSync()) });
    for (const [name] of this.params) {
      out.set(`exp_avg.${name}`, host(this.m.get(name)!));
      out.set(`exp_avg_sq.${name}`, host(this.v.get(name)!));
    }
    out.set('step', { dtype: 'int64', shape: [], data: BigInt64Array.of(BigInt(this.step)) });
    return out;
  }

  loadStateDict(dict: StateDict, source = 'optimizer state'): void {
    const step = dict.get('step');
    if (!step) throw new Error(`${source}: missing "step"`);
    for (const [name] of this.params) {
      for (const [prefix, store] of [['exp_avg', this.m], ['exp_avg_sq', this.v]] as const) {
        const t = dict.get(`${prefix}.${name}`);
        const target = store.get(name)!;
        if (!t) throw new Error(`${source}: missing "${prefix}.${name}"`);
        if (t.shape.join(',') !== target.shape.join(',')) throw new Error(`${source}: "${prefix}.${name}" has shape [${t.shape}], expected [${target.shape}]`);
        tf.tidy(() => target.assign(tf.tensor(t.data as Float32Array, t.shape, 'float32')));
      }
    }
    this.step = Number((step.data as BigInt64Array)[0]);
  }

  dispose(): void {
    for (const t of [...this.m.values(), ...this.v.values()]) t.dispose();
  }
}

/** Global L2 norm of the gradients. */
export function globalNorm(grads: Iterable<tf.Tensor>): number {
  return tf.tidy(() => {
    const parts = [...grads].map((g) => tf.sum(tf.square(g)));
    return parts.length ? Math.sqrt(tf.addN(parts).dataSync()[0]) : 0;
  });
}

/**
 * torch.nn.utils.clip_grad_norm_: scales every gradient by max_norm / (norm + 1e-6) when the global
 * norm exceeds max_norm. Returns the new map (old tensors disposed when replaced) and the norm.
 */
export function clipGradNorm(grads: Map<string, tf.Tensor>, maxNorm: number): { grads: Map<string, tf.Tensor>; norm: number } {
  const norm = globalNorm(grads.values());
  const coef = maxNorm / (norm + 1e-6);
  if (coef >= 1) return { grads, norm };
  const out = new Map<string, tf.Tensor>();
  for (const [k, g] of grads) {
    out.set(k, tf.mul(g, coef));
    g.dispose();
  }
  return { grads: out, norm };
}
