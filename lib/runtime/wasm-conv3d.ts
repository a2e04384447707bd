/**
 * Conv3D gradients for the wasm backend. The stock Conv3DBackpropInputV2 is wrong in every
 * configuration and Conv3DBackpropFilterV2 is wrong for stride > 1 (tfjs-backends.md §1b); both
 * are rebuilt per temporal tap from the 2-D gradient kernels of this pack (XNNPACK convs):
 *   dx[b, t]  = Σ_{kt, ot : ot·st + kt − pF = t} dx2d(dy[b, ot], w[kt])
 *   dw[kt]    = Σ_{b, ot} dw2d(x[b, ot·st + kt − pF], dy[b, ot])   (frames outside [0, T) are zero)
 */
import * as tf from '@tensorflow/tfjs-core';
import { conv2DBackpropFilter, conv2DBackpropInput } from './wasm-conv';
import { type KernelArgs, type Scope, type TI, scoped } from './wasm-util';

type Shape5 = [number, number, number, number, number];

function info3d(xShape: Shape5, filterShape: Shape5, attrs: Record<string, unknown>) {
  return tf.backend_util.computeConv3DInfo(xShape, filterShape, attrs.strides as number | [number, number, number], 1,
    attrs.pad as 'valid' | 'same');
}

/** The pad of the 2-D problem of one temporal tap, explicit (as the 3-D conv computed it). */
function pad2d(info: tf.backend_util.Conv3DInfo): tf.backend_util.ExplicitPadding {
  const p = info.padInfo;
  return [[0, 0], [p.top, p.bottom], [p.left, p.right], [0, 0]];
}

/** Frame t of `frames` [B, n, …] lands at t·st + off in [B, T, …] (zeros elsewhere). */
function placeFrames(s: Scope, frames: TI, st: number, off: number, t: number): TI {
  const [b, n, inner] = frames.shape;
  let up = frames;
  if (st > 1) up = s.reshape(s.pad(s.reshape(frames, [b, n, 1, inner]), [[0, 0], [0, 0], [0, st - 1], [0, 0]]), [b, n * st, inner]);
  const len = up.shape[1];
  const cropFront = Math.max(0, -off);
  const padFront = Math.max(0, off);
  const keep = Math.min(len - cropFront, t - padFront);
  if (keep <= 0) return s.run('Fill', [], { shape: [b, t, inner], value: 0, dtype: frames.dtype });
  up = s.slice(up, [0, cropFront, 0], [b, keep, inner]);
  return s.pad(up, [[0, 0], [padFront, t - padFront - keep], [0, 0]]);
}

export function conv3DBackpropInputV2({ inputs, backend, attrs }: KernelArgs): TI {
  const { dy, filter } = inputs;
  const inputShape = attrs.inputShape as Shape5;
  const info = info3d(inputShape, filter.shape as Shape5, attrs);
  const [b, t, h, w, ci] = inputShape;
  const [kt, kh, kw, , co] = filter.shape;
  const [, ot, oh, ow] = dy.shape;
  return scoped(backend, (s) => {
    const dyF = s.reshape(dy, [b * ot, oh, ow, co]);
    const wFlat = s.reshape(filter, [kt, kh * kw * ci * co]);
    let acc: TI | null = null;
    for (let k = 0; k < kt; k++) {
      const wk = s.reshape(s.slice(wFlat, [k, 0], [1, kh * kw * ci * co]), [kh, kw, ci, co]);
      const g = s.adopt(conv2DBackpropInput({
        inputs: { dy: dyF, filter: wk },
        backend,
        attrs: { strides: [info.strideHeight, info.strideWidth], pad: pad2d(info), dataFormat: 'NHWC', inputShape: [b * ot, h, w, ci] },
      }));
      const placed = placeFrames(s, s.reshape(g, [b, ot, h * w * ci]), info.strideDepth, k - info.padInfo.front, t);
      acc = acc ? s.run('Add', { a: acc, b: placed }) : placed;
    }
    return s.reshape(acc as TI, inputShape);
  });
}

export function conv3DBackpropFilterV2({ inputs, backend, attrs }: KernelArgs): TI {
  const { x, dy } = inputs;
  const filterShape = attrs.filterShape as Shape5;
  const info = info3d(x.shape as Shape5, filterShape, attrs);
  const [b, t, h, w, ci] = x.shape;
  const [kt, kh, kw, , co] = filterShape;
  const [, ot, oh, ow] = dy.shape;
  const st = info.strideDepth;
  const pf = info.padInfo.front;
  return scoped(backend, (s) => {
    const x3 = s.reshape(x, [b, t, h * w * ci]);
    const dy3 = s.reshape(dy, [b, ot, oh * ow * co]);
    const taps: TI[] = [];
    for (let k = 0; k < kt; k++) {
      // Output frames whose tap k reads a real (not padded) input frame.
      const o0 = Math.max(0, Math.ceil((pf - k) / st));
      const o1 = Math.min(ot - 1, Math.floor((t - 1 + pf - k) / st));
      const n = o1 - o0 + 1;
      if (n <= 0) {
        taps.push(s.run('Fill', [], { shape: [1, kh, kw, ci, co], value: 0, dtype: 'float32' }));
        continue;
      }
      const t0 = o0 * st + k - pf;
      let xf: TI;
      if (st === 1 || n === 1) {
        xf = s.slice(x3, [0, t0, 0], [b, n, h * w * ci]);
      } else {
        const idx = s.adopt(backend.makeOutput([n], 'int32', undefined, Int32Array.from({ length: n }, (_, i) => t0 + i * st)));
        xf = s.run('GatherV2', { x: x3, indices: idx }, { axis: 1, batchDims: 0 });
      }
      const dyf = s.slice(dy3, [0, o0, 0], [b, n, oh * ow * co]);
      const g = s.adopt(conv2DBackpropFilter({
        inputs: { x: s.reshape(xf, [b * n, h, w, ci]), dy: s.reshape(dyf, [b * n, oh, ow, co]) },
        backend,
        attrs: { strides: [info.strideHeight, info.strideWidth], pad: pad2d(info), dataFormat: 'NHWC', filterShape: [kh, kw, ci, co] },
      }));
      taps.push(s.reshape(g, [1, kh, kw, ci, co]));
    }
    return taps.length === 1 ? taps[0] : s.run('Concat', taps, { axis: 0 });
  });
}
