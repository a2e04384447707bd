/**
 * ProPainter's encoder (`Encoder` in model/propainter.py): 9 convs with LeakyReLU(0.2) at the odd
 * indices of `layers`, stride 2 twice (→ 1/4 resolution). Before layers 10, 12, 14 and 16 the
 * input is the channel interleave of the skip `x0` (output of layer 7) and the running features,
 * in g = 2, 4, 8, 1 groups; group j of the grouped conv therefore sees exactly
 * concat[x0 chunk j, out chunk j], which is what is built here (no interleaved tensor).
 */
import * as tf from '@tensorflow/tfjs-core';
import { Module } from '../../nn/module';
import { Conv2d, LeakyReLU, ModuleList } from '../../nn/layers';
import { conv2d } from '../../ops/conv';
import { pipe, split } from './layers';
import { mapFrameChunks } from '../../nn/chunks';

const GROUPS: Record<number, number> = { 10: 2, 12: 4, 14: 8, 16: 1 };

/** Splits NHWC channels into g equal chunks (g = 1 returns the input). */
function chunks(x: tf.Tensor4D, g: number): tf.Tensor4D[] {
  return g === 1 ? [x] : (split(x, g, 3) as tf.Tensor4D[]);
}

/** Re-chunks a list of equal channel chunks into g equal chunks. */
function rechunk(parts: tf.Tensor4D[], g: number): tf.Tensor4D[] {
  if (parts.length === g) return parts;
  if (g % parts.length === 0) return parts.flatMap((p) => chunks(p, g / parts.length));
  if (parts.length % g === 0) {
    const per = parts.length / g;
    return Array.from({ length: g }, (_, j) => tf.concat(parts.slice(j * per, (j + 1) * per), 3) as tf.Tensor4D);
  }
  return chunks(tf.concat(parts, 3) as tf.Tensor4D, g);
}

export class Encoder extends Module {
  readonly layers: ModuleList;

  constructor() {
    super();
    const conv = (i: number, o: number, stride = 1, groups = 1) => new Conv2d(i, o, 3, { stride, padding: 1, groups });
    const lrelu = () => new LeakyReLU(0.2);
    this.layers = this.registerModule(
      'layers',
      new ModuleList([
        conv(5, 64, 2), lrelu(),
        conv(64, 64), lrelu(),
        conv(64, 128, 2), lrelu(),
        conv(128, 256), lrelu(),
        conv(256, 384), lrelu(),
        conv(640, 512, 1, 2), lrelu(),
        conv(768, 384, 1, 4), lrelu(),
        conv(640, 256, 1, 8), lrelu(),
        conv(512, 128), lrelu(),
      ]),
    );
  }

  /** x [N, H, W, 5] → [N, H/4, W/4, 128]; frames are processed in chunks (bounded peak memory). */
  forward(x: tf.Tensor4D): tf.Tensor4D {
    const [, h, w] = x.shape;
    // Largest per-frame activation: layer 10's 512 channels at 1/4 resolution.
    return mapFrameChunks(x, (c) => this.forwardChunk(c as tf.Tensor4D), Math.ceil(h / 4) * Math.ceil(w / 4) * 512) as tf.Tensor4D;
  }

  private forwardChunk(x: tf.Tensor4D): tf.Tensor4D {
    const plain = Array.from({ length: 8 }, (_, i) => (t: tf.Tensor) => (this.layers.at(i) as Conv2d | LeakyReLU).forward(t));
    const x0 = pipe(x, plain) as tf.Tensor4D;
    let parts: tf.Tensor4D[] = [tf.tidy(() => tf.leakyRelu((this.layers.at(8) as Conv2d).forward(x0), 0.2) as tf.Tensor4D)];
    for (const i of [10, 12, 14, 16]) {
      const next = tf.tidy(() => {
        const g = GROUPS[i];
        const layer = this.layers.at(i) as Conv2d;
        const x0c = chunks(x0, g);
        const oc = rechunk(parts, g);
        const ws = g === 1 ? [layer.weight] : split(layer.weight, g, 3);
        const bs = g === 1 ? [layer.bias!] : split(layer.bias!, g);
        return x0c.map((xc, j) => {
          const y = conv2d(tf.concat([xc, oc[j]], 3) as tf.Tensor4D, ws[j] as tf.Tensor4D, { padding: 1, bias: bs[j] as tf.Tensor1D });
          return tf.leakyRelu(y, 0.2) as tf.Tensor4D;
        });
      });
      parts.forEach((p) => p.dispose());
      parts = next;
    }
    x0.dispose();
    return parts[0];
  }
}
