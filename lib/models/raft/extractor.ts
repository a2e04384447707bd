/**
 * RAFT's BasicEncoder (feature encoder `fnet` with instance norm, context encoder `cnet` with
 * batch norm), channels-last. Names and registration order follow RAFT/extractor.py so that
 * stateDict() keys equal raft-things.pth's (without `module.`).
 */
import * as tf from '@tensorflow/tfjs-core';
import { Module, Unary } from '../../nn/module';
import { BatchNorm, Conv2d, InstanceNorm2d, ReLU, Sequential } from '../../nn/layers';

export type RaftNorm = 'instance' | 'batch';

function makeNorm(kind: RaftNorm, channels: number): Module & Unary {
  return kind === 'batch' ? new BatchNorm(channels) : new InstanceNorm2d(channels);
}

/** ResidualBlock(in → out, stride): two 3×3 convs, 1×1 strided projection when stride ≠ 1. */
export class ResidualBlock extends Module implements Unary {
  readonly conv1: Conv2d;
  readonly conv2: Conv2d;
  readonly norm1: Module & Unary;
  readonly norm2: Module & Unary;
  readonly norm3: (Module & Unary) | null;
  readonly downsample: Sequential | null;

  constructor(inPlanes: number, planes: number, norm: RaftNorm, stride: number) {
    super();
    this.conv1 = this.registerModule('conv1', new Conv2d(inPlanes, planes, 3, { padding: 1, stride }));
    this.conv2 = this.registerModule('conv2', new Conv2d(planes, planes, 3, { padding: 1 }));
    this.norm1 = this.registerModule('norm1', makeNorm(norm, planes));
    this.norm2 = this.registerModule('norm2', makeNorm(norm, planes));
    if (stride !== 1) {
      this.norm3 = this.registerModule('norm3', makeNorm(norm, planes));
      // [QUIRK] the official block registers norm3 a second time as downsample.1, so the
      // checkpoint holds both names for one tensor; the same module is registered here too.
      this.downsample = this.registerModule('downsample', new Sequential([new Conv2d(inPlanes, planes, 1, { stride }), this.norm3]));
    } else {
      this.norm3 = null;
      this.downsample = null;
    }
  }

  forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      let y = tf.relu(this.norm1.forward(this.conv1.forward(x)));
      y = tf.relu(this.norm2.forward(this.conv2.forward(y)));
      const skip = this.downsample ? this.downsample.forward(x) : x;
      return tf.relu(tf.add(skip, y));
    });
  }
}

/** BasicEncoder(output_dim): 1/8 resolution, `outputDim` channels. Input NHWC. */
export class BasicEncoder extends Module implements Unary {
  readonly norm1: Module & Unary;
  readonly conv1: Conv2d;
  readonly relu1: ReLU;
  readonly layer1: Sequential;
  readonly layer2: Sequential;
  readonly layer3: Sequential;
  readonly conv2: Conv2d;

  constructor(outputDim: number, norm: RaftNorm) {
    super();
    // Registration order = the official attribute order (norm1 precedes conv1 in the state dict).
    this.norm1 = this.registerModule('norm1', makeNorm(norm, 64));
    this.conv1 = this.registerModule('conv1', new Conv2d(3, 64, 7, { stride: 2, padding: 3 }));
    this.relu1 = this.registerModule('relu1', new ReLU());
    const layer = (inP: number, dim: number, stride: number) =>
      new Sequential([new ResidualBlock(inP, dim, norm, stride), new ResidualBlock(dim, dim, norm, 1)]);
    this.layer1 = this.registerModule('layer1', layer(64, 64, 1));
    this.layer2 = this.registerModule('layer2', layer(64, 96, 2));
    this.layer3 = this.registerModule('layer3', layer(96, 128, 2));
    this.conv2 = this.registerModule('conv2', new Conv2d(128, outputDim, 1));
  }

  forward(x: tf.Tensor): tf.Tensor4D {
    return tf.tidy(() => {
      let y = tf.relu(this.norm1.forward(this.conv1.forward(x)));
      y = this.layer1.forward(y);
      y = this.layer2.forward(y);
      y = this.layer3.forward(y);
      return this.conv2.forward(y);
    });
  }
}
