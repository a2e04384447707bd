/**
 * Adam with PyTorch's exact update (torch.optim.Adam: L2 weight decay added to the gradient,
 * bias corrections, eps outside the square root), state that can be saved and restored, and
 * global-norm gradient clipping. The learning rate is passed per step (schedules are functions
 * of the step).
 */
import * as tf from '@tensorflow/tfjs-core';
import { HostTensor, StateDict, toFloat32 } from '../io/host-tensor';
import { isHostTensor } from '../io/pth';
import type { Module } from '../nn/module';
import type { ParamLayout } from '../nn/layout';

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

  /**
   * Restores moments and step count. With `layouts` (parameter name → layout) the moments are in
   * PyTorch layout (a converted torch.optim state) and are converted on the way in.
   */
  loadStateDict(dict: StateDict, source = 'optimizer state', layouts?: ReadonlyMap<string, ParamLayout>): void {
    const step = dict.get('step');
    if (!step) throw new Error(`${source}: missing "step"`);
    for (const [name] of this.params) {
      const layout = layouts?.get(name);
      for (const [prefix, store] of [['exp_avg', this.m], ['exp_avg_sq', this.v]] as const) {
        const t = dict.get(`${prefix}.${name}`);
        const target = store.get(name)!;
        const want = layout ? layout.torchShape(target.shape) : target.shape;
        if (!t) throw new Error(`${source}: missing "${prefix}.${name}"`);
        if (t.shape.join(',') !== want.join(',')) throw new Error(`${source}: "${prefix}.${name}" has shape [${t.shape}], expected [${want}]`);
        tf.tidy(() => {
          const x = tf.tensor(toFloat32(t), t.shape, 'float32');
          target.assign(layout ? layout.fromTorch(x) : x);
        });
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

/**
 * A torch.optim.Adam `state_dict()` ({state: {i: {step, exp_avg, exp_avg_sq}}, param_groups:
 * [{params: [i, …], betas, …}]}) keyed like our Adam's state, for `module`'s trainable parameters:
 * the i-th index of the param groups is the i-th of `module.namedParameters()` (the official
 * trainers optimise every parameter in `named_parameters()` order). Moments stay in the PyTorch
 * layout (load them with `Adam.loadStateDict(state, source, layouts)`); a parameter without state
 * (never updated) gets zero moments; our single step count is the largest per-parameter step.
 * `source` names the file in errors.
 */
export function adamStateFromTorch(dict: unknown, module: Module, source: string): { state: StateDict; layouts: Map<string, ParamLayout>; betas: [number, number] | null } {
  const get = (m: unknown, key: string, what: string): unknown => {
    if (!(m instanceof Map) || !m.has(key)) throw new Error(`${source}: ${what} has no "${key}" (not a torch.optim state_dict)`);
    return m.get(key);
  };
  const states = get(dict, 'state', 'the optimizer state');
  const groups = get(dict, 'param_groups', 'the optimizer state');
  if (!(states instanceof Map) || !Array.isArray(groups)) throw new Error(`${source}: "state" must be a dict and "param_groups" a list`);
  const indices = groups.flatMap((g, i) => {
    const p = get(g, 'params', `param_groups[${i}]`);
    if (!Array.isArray(p)) throw new Error(`${source}: param_groups[${i}].params is not a list`);
    return p as unknown[];
  });
  const params = module.namedParameters();
  if (indices.length !== params.length) {
    throw new Error(`${source}: the optimizer holds ${indices.length} parameters, ${module.constructor.name} has ${params.length}`);
  }
  const all = new Map(module.namedEntries().map(([n, e]) => [n, e.layout]));
  const layouts = new Map<string, ParamLayout>();
  const out: StateDict = new Map();
  let step = 0;
  params.forEach(([name, v], k) => {
    const layout = all.get(name)!;
    layouts.set(name, layout);
    const want = layout.torchShape(v.shape);
    const st = states.get(indices[k]);
    for (const slot of ['exp_avg', 'exp_avg_sq']) {
      const t = st === undefined ? { dtype: 'float32' as const, shape: want, data: new Float32Array(v.size) } : get(st, slot, `state[${String(indices[k])}] (${name})`);
      if (!isHostTensor(t) || t.shape.join(',') !== want.join(',')) {
        throw new Error(`${source}: state[${String(indices[k])}].${slot} (${name}) is ${isHostTensor(t) ? `[${t.shape}]` : 'not a tensor'}, expected [${want}]`);
      }
      out.set(`${slot}.${name}`, t);
    }
    if (st !== undefined) {
      const s = get(st, 'step', `state[${String(indices[k])}]`);
      const n = isHostTensor(s) ? Number(s.data[0]) : Number(s);
      if (!Number.isFinite(n) || n < 0) throw new Error(`${source}: state[${String(indices[k])}].step is not a step count`);
      step = Math.max(step, n);
    }
  });
  out.set('step', { dtype: 'int64', shape: [], data: BigInt64Array.of(BigInt(Math.round(step))) });
  const b = groups[0] instanceof Map ? groups[0].get('betas') : undefined;
  const betas = Array.isArray(b) && b.length === 2 && b.every((x) => typeof x === 'number') ? (b as [number, number]) : null;
  return { state: out, layouts, betas };
}
