import * as tf from '@tensorflow/tfjs-core';
import type { Module } from '../nn/module';
import { detValues } from './det-init';

/**
 * Sets every floating-point state entry of `module` to its det-init v1 values. A tensor reachable
 * under several names (an alias) takes the values of its first name in state-dict order, as the
 * fixtures' reference harness does; integer buffers keep their constructed values.
 */
export function applyDetInit(module: Module): void {
  const seen = new Set<tf.Variable>();
  for (const [name, e] of module.namedEntries()) {
    if (seen.has(e.variable)) continue;
    seen.add(e.variable);
    if (e.variable.dtype !== 'float32') continue;
    const shape = e.layout.torchShape(e.variable.shape);
    tf.tidy(() => e.variable.assign(e.layout.fromTorch(tf.tensor(detValues(name, shape), shape, 'float32'))));
  }
}
