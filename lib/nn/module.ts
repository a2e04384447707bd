/**
 * A small PyTorch-like Module: parameters and buffers named by dotted path exactly like
 * `state_dict` keys, train/eval mode, stateDict()/loadStateDict(). Values live in TF.js layout;
 * each entry's ParamLayout converts to and from the PyTorch layout at the state-dict boundary.
 */
import * as tf from '@tensorflow/tfjs-core';
import { DType, HostTensor, StateDict, numel, toFloat32, toInt32 } from '../io/host-tensor';
import { IDENTITY, ParamLayout } from './layout';
import { Initializer, zeros } from './init';

export interface StateEntry {
  /** Current value; parameters are trainable tf.Variables, buffers non-trainable ones. */
  variable: tf.Variable;
  layout: ParamLayout;
  kind: 'parameter' | 'buffer';
  /** dtype reported in stateDict(), e.g. int64 for index buffers. */
  torchDtype: DType;
  /** Non-persistent buffers are not part of the state dict (PyTorch `persistent=False`). */
  persistent: boolean;
}

export interface LoadResult {
  missing: string[];
  unexpected: string[];
}

export class StateDictError extends Error {
  constructor(
    message: string,
    readonly missing: string[],
    readonly unexpected: string[],
    readonly mismatched: string[],
  ) {
    super(message);
    this.name = 'StateDictError';
  }
}

function list(title: string, keys: string[]): string {
  if (keys.length === 0) return '';
  const shown = keys.slice(0, 20).map((k) => `    ${k}`).join('\n');
  const more = keys.length > 20 ? `\n    … and ${keys.length - 20} more` : '';
  return `\n  ${title} (${keys.length}):\n${shown}${more}`;
}

export abstract class Module {
  training = true;
  private readonly _entries = new Map<string, StateEntry>();
  private readonly _children = new Map<string, Module>();

  /** Registers a trainable parameter with its PyTorch shape; stored in `layout`'s TF.js form. */
  protected registerParameter(name: string, torchShape: readonly number[], init: Initializer = zeros, layout: ParamLayout = IDENTITY): tf.Variable {
    this.assertFree(name);
    const value = tf.tidy(() => layout.fromTorch(tf.tensor(init(torchShape), torchShape as number[], 'float32')));
    const variable = tf.variable(value, true);
    value.dispose();
    this._entries.set(name, { variable, layout, kind: 'parameter', torchDtype: 'float32', persistent: true });
    return variable;
  }

  /** Registers a buffer (non-trainable state such as running stats or index lists), TF.js layout. */
  protected registerBuffer(
    name: string,
    value: tf.Tensor,
    opts: { layout?: ParamLayout; torchDtype?: DType; persistent?: boolean } = {},
  ): tf.Variable {
    this.assertFree(name);
    const variable = tf.variable(value, false);
    value.dispose();
    this._entries.set(name, {
      variable,
      layout: opts.layout ?? IDENTITY,
      kind: 'buffer',
      torchDtype: opts.torchDtype ?? (variable.dtype === 'int32' ? 'int64' : 'float32'),
      persistent: opts.persistent ?? true,
    });
    return variable;
  }

  /** Registers a child module under `name` (its entries become `name.*`). */
  protected registerModule<M extends Module>(name: string, module: M): M {
    this.assertFree(name);
    this._children.set(name, module);
    return module;
  }

  private assertFree(name: string): void {
    if (name.includes('.') || name === '') throw new Error(`invalid entry name "${name}"`);
    if (this._entries.has(name) || this._children.has(name)) throw new Error(`"${name}" is already registered`);
  }

  /** Direct children in registration order. */
  children(): Array<[string, Module]> {
    return [...this._children];
  }

  /** This module and all descendants, with dotted names ('' for this one). Shared modules appear once. */
  namedModules(prefix = '', seen = new Set<Module>()): Array<[string, Module]> {
    if (seen.has(this)) return [];
    seen.add(this);
    const out: Array<[string, Module]> = [[prefix, this]];
    for (const [n, m] of this._children) out.push(...m.namedModules(prefix ? `${prefix}.${n}` : n, seen));
    return out;
  }

  /**
   * Every state entry under its full dotted name, in PyTorch state_dict order (own entries, then
   * children). A module registered under two names (an alias) yields its entries under both.
   */
  namedEntries(prefix = ''): Array<[string, StateEntry]> {
    const out: Array<[string, StateEntry]> = [];
    for (const [n, e] of this._entries) out.push([prefix ? `${prefix}.${n}` : n, e]);
    for (const [n, m] of this._children) out.push(...m.namedEntries(prefix ? `${prefix}.${n}` : n));
    return out;
  }

  /** Trainable parameters by name; an aliased tensor is listed once, under its first name. */
  namedParameters(): Array<[string, tf.Variable]> {
    const seen = new Set<tf.Variable>();
    const out: Array<[string, tf.Variable]> = [];
    for (const [n, e] of this.namedEntries()) {
      if (e.kind !== 'parameter' || seen.has(e.variable)) continue;
      seen.add(e.variable);
      out.push([n, e.variable]);
    }
    return out;
  }

  parameters(): tf.Variable[] {
    return this.namedParameters().map(([, v]) => v);
  }

  namedBuffers(): Array<[string, tf.Variable]> {
    return this.namedEntries()
      .filter(([, e]) => e.kind === 'buffer')
      .map(([n, e]) => [n, e.variable] as [string, tf.Variable]);
  }

  /** Number of trainable scalars (aliases counted once), like sum(p.numel() for p in parameters()). */
  numParameters(): number {
    return this.parameters().reduce((a, v) => a + v.size, 0);
  }

  /** PyTorch `requires_grad_(flag)` for every parameter. */
  requiresGrad(flag: boolean): this {
    for (const v of this.parameters()) (v as { trainable: boolean }).trainable = flag;
    return this;
  }

  train(mode = true): this {
    for (const [, m] of this.namedModules()) m.training = mode;
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  /** The state dict in PyTorch layout and key order (persistent entries only). */
  stateDict(): StateDict {
    const out: StateDict = new Map();
    for (const [name, e] of this.namedEntries()) {
      if (!e.persistent) continue;
      out.set(name, entryToHost(e));
    }
    return out;
  }

  /**
   * Loads a PyTorch-layout state dict. Strict mode (default) throws a StateDictError listing
   * missing, unexpected and shape-mismatched keys; nothing is modified unless all keys check out.
   */
  loadStateDict(dict: StateDict, opts: { strict?: boolean } = {}): LoadResult {
    const strict = opts.strict ?? true;
    const entries = this.namedEntries().filter(([, e]) => e.persistent);
    const own = new Map(entries);
    const missing = entries.map(([n]) => n).filter((n) => !dict.has(n));
    const unexpected = [...dict.keys()].filter((k) => !own.has(k));
    const mismatched: string[] = [];
    for (const [name, e] of entries) {
      const t = dict.get(name);
      if (!t) continue;
      const want = e.layout.torchShape(e.variable.shape);
      if (want.length !== t.shape.length || want.some((d, i) => d !== t.shape[i])) {
        mismatched.push(`${name}: checkpoint [${t.shape.join(', ')}] vs model [${want.join(', ')}]`);
      }
    }
    if (mismatched.length > 0 || (strict && (missing.length > 0 || unexpected.length > 0))) {
      throw new StateDictError(
        `state dict does not match ${this.constructor.name}:` +
          list('missing keys', missing) +
          list('unexpected keys', unexpected) +
          list('shape mismatches', mismatched),
        missing,
        unexpected,
        mismatched,
      );
    }
    for (const [name, e] of entries) {
      const t = dict.get(name);
      if (t) assignFromHost(e, t, name);
    }
    return { missing, unexpected };
  }

  /** Releases every variable of this module tree. */
  dispose(): void {
    const seen = new Set<tf.Variable>();
    for (const [, e] of this.namedEntries()) {
      if (seen.has(e.variable)) continue;
      seen.add(e.variable);
      e.variable.dispose();
    }
  }
}

function entryToHost(e: StateEntry): HostTensor {
  const t = e.layout.toTorch(e.variable);
  const shape = t.shape.slice();
  const v = t.dataSync();
  t.dispose();
  if (e.torchDtype === 'int64') return { dtype: 'int64', shape, data: BigInt64Array.from(v, (x) => BigInt(x)) };
  if (e.torchDtype === 'int32') return { dtype: 'int32', shape, data: Int32Array.from(v) };
  return { dtype: 'float32', shape, data: Float32Array.from(v) };
}

function assignFromHost(e: StateEntry, t: HostTensor, name: string): void {
  const isInt = e.variable.dtype === 'int32';
  if (numel(t.shape) !== e.variable.size) throw new Error(`${name}: ${numel(t.shape)} elements, expected ${e.variable.size}`);
  tf.tidy(() => {
    const src = isInt
      ? tf.tensor(toInt32(t, name), t.shape, 'int32')
      : tf.tensor(toFloat32(t), t.shape, 'float32');
    e.variable.assign(e.layout.fromTorch(src));
  });
}

/** Something that maps one tensor to one tensor (for Sequential). */
export interface Unary {
  forward(x: tf.Tensor): tf.Tensor;
}

export function isUnary(m: unknown): m is Unary {
  return typeof (m as Unary).forward === 'function';
}
