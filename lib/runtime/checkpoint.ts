/**
 * Gradient checkpointing (torch.utils.checkpoint) for TF.js: `checkpoint(fn, inputs, params)`
 * returns fn(...inputs) but records ONE tape node for it, saving only `inputs`. Its backward
 * recomputes fn on the tape and backpropagates `dy` through it right there, so fn's intermediates
 * and their gradients exist only while that segment is differentiated.
 *
 * Why: the TF.js engine keeps every tensor saved by every op, and the gradient of every
 * intermediate, until the whole backward pass ends; a training step then peaks at several times
 * its forward activations. With the model cut into checkpointed segments the peak is the segment
 * boundaries plus one segment's forward+backward, at the price of a second forward.
 *
 * `fn` must be a pure function of `inputs` and `params` (no in-place state updates such as spectral
 * norm's power iteration, no randomness): it runs twice. Any tensor it reads must be among
 * `inputs` or `params` — tensors captured from the caller may be gone by the time the backward
 * runs. Gradients flow to `inputs` and to the trainable `params` (Variables fn reads through its
 * module). Off the tape (inference) it is just fn(...inputs).
 * Backend-agnostic: public ops plus the engine's own `gradients`.
 */
import * as tf from '@tensorflow/tfjs-core';

interface EngineState {
  gradientDepth: number;
  kernelDepth: number;
  activeTape: unknown[] | null;
}

interface EngineInternals {
  state: EngineState;
  gradients(f: () => tf.Tensor, xs: tf.Tensor[], dy?: tf.Tensor, allowNoGradients?: boolean): { value: tf.Tensor; grads: Array<tf.Tensor | undefined> };
}

const engine = () => tf.engine() as unknown as EngineInternals;

/** True while ops are being recorded for a gradient (inside tf.grads / variableGrads / a recompute). */
export function tapeRecording(): boolean {
  const s = engine().state;
  return s.gradientDepth > 0 && s.kernelDepth === 0;
}

let disabled = 0;

/**
 * Runs `f` with checkpointing off: every checkpoint() inside is a plain fn(...inputs) call even on
 * the tape (all intermediates kept, the ordinary TF.js backward). For tests comparing checkpointed
 * gradients against plain ones; nests.
 */
export function withoutCheckpointing<T>(f: () => T): T {
  disabled++;
  try {
    return f();
  } finally {
    disabled--;
  }
}

/** True when checkpoint() would record a checkpointed segment: on the tape, not switched off. */
export function checkpointing(): boolean {
  return disabled === 0 && tapeRecording();
}

export interface CheckpointOptions {
  /** Indices of inputs that need no gradient (masks, flows): not differentiated, zero gradient. */
  constants?: readonly number[];
}

export function checkpoint<T extends tf.Tensor>(
  fn: (...xs: tf.Tensor[]) => T,
  inputs: tf.Tensor[],
  params: readonly tf.Variable[],
  opts: CheckpointOptions = {},
): T {
  if (!checkpointing()) return fn(...inputs);
  params = params.filter((p) => p.trainable);
  const n = inputs.length;
  const constants = new Set(opts.constants ?? []);
  const op = tf.customGrad((...args: unknown[]) => {
    const save = args[args.length - 1] as tf.GradSaveFunc;
    const xs = args.slice(0, n) as tf.Tensor[];
    save(xs);
    return {
      value: fn(...xs),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
        tf.tidy(() => {
          const all = [...saved, ...params];
          const wrt = all.filter((_, i) => !constants.has(i));
          const got = new Map<tf.Tensor, tf.Tensor | undefined>();
          if (wrt.length > 0) {
            const e = engine();
            // The enclosing backward is still walking its tape and disposes the tensors it saved
            // at the end; a nested gradients() call at depth 0 replaces (then nulls) that tape.
            const outer = e.state.activeTape;
            try {
              const g = e.gradients(() => fn(...saved), wrt, dy, true).grads;
              wrt.forEach((x, i) => got.set(x, g[i]));
            } finally {
              e.state.activeTape = outer;
            }
          }
          // Not reached from the output (a constant input, or a parameter this call did not use):
          // zeros, as the node must return a gradient per input.
          return all.map((x) => got.get(x) ?? tf.zerosLike(x));
        }),
    };
  });
  return op(...inputs, ...params) as T;
}
