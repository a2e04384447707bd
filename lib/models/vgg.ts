/**
 * VGG feature extractor as the official `model/vgg_arch.py` (BasicSR `VGGFeatureExtractor`),
 * used by `PerceptualLoss` (core/loss.py): torchvision VGG `features` up to the deepest requested
 * layer, every pool replaced by MaxPool2d(2, poolingStride), optional [-1,1]→[0,1] range norm and
 * ImageNet mean/std input norm. Layers are named children (`vgg_net.conv1_1.weight`, …), so the
 * state dict keys are those of the official module; `mean`/`std` buffers come first.
 * Features are returned *as produced by the named layer* (e.g. `conv3_4` = before its ReLU).
 * Pretrained weights are user-supplied (`loadVgg19`); nothing is downloaded.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import { Module, Unary, isUnary } from '../nn/module';
import { BatchNorm, Conv2d, ReLU } from '../nn/layers';
import { permuteLayout } from '../nn/layout';
import type { HostTensor, StateDict } from '../io/host-tensor';
import { loadCheckpoint } from '../io/checkpoint';

/** Layer names of torchvision's VGG `features`, index for index (official NAMES table). */
export const VGG_NAMES: Record<'vgg11' | 'vgg13' | 'vgg16' | 'vgg19', string[]> = {
  vgg11: [
    'conv1_1', 'relu1_1', 'pool1', 'conv2_1', 'relu2_1', 'pool2', 'conv3_1', 'relu3_1', 'conv3_2', 'relu3_2',
    'pool3', 'conv4_1', 'relu4_1', 'conv4_2', 'relu4_2', 'pool4', 'conv5_1', 'relu5_1', 'conv5_2', 'relu5_2', 'pool5',
  ],
  vgg13: [
    'conv1_1', 'relu1_1', 'conv1_2', 'relu1_2', 'pool1', 'conv2_1', 'relu2_1', 'conv2_2', 'relu2_2', 'pool2',
    'conv3_1', 'relu3_1', 'conv3_2', 'relu3_2', 'pool3', 'conv4_1', 'relu4_1', 'conv4_2', 'relu4_2', 'pool4',
    'conv5_1', 'relu5_1', 'conv5_2', 'relu5_2', 'pool5',
  ],
  vgg16: [
    'conv1_1', 'relu1_1', 'conv1_2', 'relu1_2', 'pool1', 'conv2_1', 'relu2_1', 'conv2_2', 'relu2_2', 'pool2',
    'conv3_1', 'relu3_1', 'conv3_2', 'relu3_2', 'conv3_3', 'relu3_3', 'pool3', 'conv4_1', 'relu4_1', 'conv4_2',
    'relu4_2', 'conv4_3', 'relu4_3', 'pool4', 'conv5_1', 'relu5_1', 'conv5_2', 'relu5_2', 'conv5_3', 'relu5_3', 'pool5',
  ],
  vgg19: [
    'conv1_1', 'relu1_1', 'conv1_2', 'relu1_2', 'pool1', 'conv2_1', 'relu2_1', 'conv2_2', 'relu2_2', 'pool2',
    'conv3_1', 'relu3_1', 'conv3_2', 'relu3_2', 'conv3_3', 'relu3_3', 'conv3_4', 'relu3_4', 'pool3', 'conv4_1',
    'relu4_1', 'conv4_2', 'relu4_2', 'conv4_3', 'relu4_3', 'conv4_4', 'relu4_4', 'pool4', 'conv5_1', 'relu5_1',
    'conv5_2', 'relu5_2', 'conv5_3', 'relu5_3', 'conv5_4', 'relu5_4', 'pool5',
  ],
};

export type VggType = 'vgg11' | 'vgg13' | 'vgg16' | 'vgg19' | 'vgg11_bn' | 'vgg13_bn' | 'vgg16_bn' | 'vgg19_bn';

/** Layer names with a `bnX_Y` after every conv (official insert_bn). */
export function vggLayerNames(type: VggType): string[] {
  const base = VGG_NAMES[type.replace('_bn', '') as keyof typeof VGG_NAMES];
  if (!base) throw new Error(`unknown VGG type "${type}"`);
  if (!type.endsWith('_bn')) return [...base];
  return base.flatMap((n) => (n.startsWith('conv') ? [n, 'bn' + n.slice(4)] : [n]));
}

/** The loss configuration ProPainter's (commented-out) perceptual loss used. */
export const PERCEPTUAL_LAYER_WEIGHTS: Readonly<Record<string, number>> = { conv3_4: 0.25, conv4_4: 0.25, conv5_4: 0.5 };

/** ImageNet statistics for inputs in [0, 1]. */
export const IMAGENET_MEAN = [0.485, 0.456, 0.406] as const;
export const IMAGENET_STD = [0.229, 0.224, 0.225] as const;

/** A (1, C, 1, 1) PyTorch buffer stored as [1, 1, 1, C] to broadcast over NHWC. */
export const NCHW_VECTOR = permuteLayout('nchw_vector', [0, 2, 3, 1]);

/** nn.MaxPool2d(kernel, stride) without padding, floor mode, on NHWC. */
export class MaxPool2d extends Module implements Unary {
  constructor(readonly kernelSize: number, readonly stride: number = kernelSize) {
    super();
  }
  forward(x: tf.Tensor): tf.Tensor {
    return tf.maxPool(x as tf.Tensor4D, this.kernelSize, this.stride, 'valid');
  }
}

/** Dropout placeholder for key-index fidelity; identity (the networks here run in eval mode). */
export class Dropout extends Module implements Unary {
  constructor(readonly p = 0.5) {
    super();
  }
  forward(x: tf.Tensor): tf.Tensor {
    return x;
  }
}

/** nn.Sequential built from an OrderedDict / add_module: children under arbitrary names, applied in order. */
export class NamedSequential extends Module implements Unary {
  readonly layers: Array<[string, Module]> = [];

  constructor(layers: Array<[string, Module]> = []) {
    super();
    for (const [n, m] of layers) this.add(n, m);
  }

  add(name: string, m: Module): Module {
    this.registerModule(name, m);
    this.layers.push([name, m]);
    return m;
  }

  forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => this.layers.reduce((y, [n, m]) => {
      if (!isUnary(m)) throw new Error(`NamedSequential: child "${n}" has no forward(x)`);
      return m.forward(y);
    }, x));
  }
}

const STAGE_CHANNELS = [64, 128, 256, 512, 512];

export interface VGGFeatureExtractorOptions {
  vggType?: VggType;
  /** ImageNet mean/std normalisation of inputs in [0, 1] (default true). */
  useInputNorm?: boolean;
  /** Map inputs from [-1, 1] to [0, 1] first (default false). */
  rangeNorm?: boolean;
  /** Trainable VGG (default false: frozen, as the official loss uses it). */
  requiresGrad?: boolean;
  removePooling?: boolean;
  poolingStride?: number;
}

export class VGGFeatureExtractor extends Module {
  readonly names: string[];
  readonly vgg_net: NamedSequential;
  readonly mean: tf.Variable | null;
  readonly std: tf.Variable | null;
  readonly useInputNorm: boolean;
  readonly rangeNorm: boolean;
  readonly vggType: VggType;

  constructor(readonly layerNameList: readonly string[], opts: VGGFeatureExtractorOptions = {}) {
    super();
    this.vggType = opts.vggType ?? 'vgg19';
    this.useInputNorm = opts.useInputNorm ?? true;
    this.rangeNorm = opts.rangeNorm ?? false;
    this.names = vggLayerNames(this.vggType);
    if (layerNameList.length === 0) throw new Error('VGGFeatureExtractor: empty layer list');
    let maxIdx = 0;
    for (const n of layerNameList) {
      const i = this.names.indexOf(n);
      if (i < 0) throw new Error(`VGGFeatureExtractor: no layer "${n}" in ${this.vggType} (${this.names.join(', ')})`);
      maxIdx = Math.max(maxIdx, i);
    }
    // Buffers registered before vgg_net, as in the official module (own entries precede children anyway).
    if (this.useInputNorm) {
      this.mean = this.registerBuffer('mean', tf.tensor4d([...IMAGENET_MEAN], [1, 1, 1, 3]), { layout: NCHW_VECTOR });
      this.std = this.registerBuffer('std', tf.tensor4d([...IMAGENET_STD], [1, 1, 1, 3]), { layout: NCHW_VECTOR });
    } else {
      this.mean = this.std = null;
    }
    const net = new NamedSequential();
    let ch = 3;
    for (const name of this.names.slice(0, maxIdx + 1)) {
      if (name.startsWith('conv')) {
        const out = STAGE_CHANNELS[Number(name[4]) - 1];
        net.add(name, new Conv2d(ch, out, 3, { padding: 1 }));
        ch = out;
      } else if (name.startsWith('bn')) {
        net.add(name, new BatchNorm(ch));
      } else if (name.startsWith('relu')) {
        net.add(name, new ReLU());
      } else if (!opts.removePooling) {
        net.add(name, new MaxPool2d(2, opts.poolingStride ?? 2));
      }
    }
    this.vgg_net = this.registerModule('vgg_net', net);
    const trainable = opts.requiresGrad ?? false;
    this.requiresGrad(trainable);
    this.train(trainable);
  }

  /** x: [N, H, W, 3] → requested features by layer name, NHWC. */
  forward(x: tf.Tensor4D): Record<string, tf.Tensor4D> {
    return tf.tidy(() => {
      let y: tf.Tensor = x;
      if (this.rangeNorm) y = tf.div(tf.add(y, 1), 2);
      if (this.mean && this.std) y = tf.div(tf.sub(y, this.mean), this.std);
      const out: Record<string, tf.Tensor4D> = {};
      for (const [name, layer] of this.vgg_net.layers) {
        y = (layer as unknown as Unary).forward(y);
        if (this.layerNameList.includes(name)) out[name] = y as tf.Tensor4D;
      }
      return out;
    });
  }
}

/** Where pretrained files come from (printed when one is missing; nothing is downloaded). */
export const PRETRAINED_SOURCES = {
  vgg19: 'https://download.pytorch.org/models/vgg19-dcbb9e9d.pth (torchvision VGG19, the file the official vgg_arch.py loads)',
  vgg16: 'https://download.pytorch.org/models/vgg16-397923af.pth (torchvision VGG16)',
  alexnet: 'https://download.pytorch.org/models/alexnet-owt-7be5be79.pth (torchvision AlexNet)',
  lpipsVgg: 'https://github.com/richzhang/PerceptualSimilarity/raw/master/lpips/weights/v0.1/vgg.pth (lpips package, linear heads)',
  lpipsAlex: 'https://github.com/richzhang/PerceptualSimilarity/raw/master/lpips/weights/v0.1/alex.pth (lpips package, linear heads)',
} as const;

/**
 * Reads a user-supplied weight file (safetensors or PyTorch .pth, format from magic bytes;
 * DataParallel `module.` prefixes stripped), with a clear message when it is missing.
 * `what` names the network; `source` says where to get the file.
 */
export function readWeightFile(file: string, what: string, source: string): StateDict {
  if (!fs.existsSync(file)) {
    throw new Error(
      `${what} weights not found at ${path.resolve(file)}. Pretrained weights are user-supplied and nothing is ` +
        `downloaded: fetch ${source} yourself and pass its path.`,
    );
  }
  return loadCheckpoint(file);
}

/**
 * Maps a VGG checkpoint to this extractor's keys. Accepts torchvision (`features.<i>.*`, the index
 * naming the layer in VGG_NAMES; `classifier.*` ignored), BasicSR (`vgg_net.<name>.*`) and
 * PerceptualLoss (`vgg.vgg_net.<name>.*`, `vgg.mean`, `vgg.std`) layouts. Entries for layers the
 * extractor does not hold are dropped; mean/std default to the ImageNet constants.
 */
export function vggStateDictFrom(model: VGGFeatureExtractor, raw: StateDict, file = 'VGG checkpoint'): StateDict {
  const src = raw;
  const want = model.stateDict();
  const out: StateDict = new Map();
  for (const [k, v] of src) {
    let key: string | null = null;
    const tv = /^features\.(\d+)\.(.+)$/.exec(k);
    if (tv) {
      const name = model.names[Number(tv[1])];
      if (name !== undefined) key = `vgg_net.${name}.${tv[2]}`;
    } else if (k.startsWith('vgg.')) key = k.slice(4);
    else if (k.startsWith('vgg_net.') || k === 'mean' || k === 'std') key = k;
    if (key !== null && want.has(key)) out.set(key, v);
  }
  const missing = [...want.keys()].filter((k) => !out.has(k) && k !== 'mean' && k !== 'std');
  if (missing.length > 0) {
    throw new Error(`${file}: not a ${model.vggType} checkpoint for these layers; missing ${missing.slice(0, 6).join(', ')}${missing.length > 6 ? ', …' : ''}`);
  }
  for (const k of ['mean', 'std']) if (want.has(k) && !out.has(k)) out.set(k, want.get(k) as HostTensor);
  return out;
}

/**
 * Builds the perceptual-loss VGG19 extractor and loads pretrained weights from `file`
 * (torchvision's vgg19-dcbb9e9d.pth or a converted .safetensors). Default layers: conv3_4,
 * conv4_4, conv5_4 with range + input norm, as the official PerceptualLoss configuration.
 */
export function loadVgg19(
  file: string,
  layers: readonly string[] = Object.keys(PERCEPTUAL_LAYER_WEIGHTS),
  opts: Omit<VGGFeatureExtractorOptions, 'vggType'> = { useInputNorm: true, rangeNorm: true },
): VGGFeatureExtractor {
  const raw = readWeightFile(file, 'VGG19', PRETRAINED_SOURCES.vgg19);
  const model = new VGGFeatureExtractor(layers, { ...opts, vggType: 'vgg19' });
  try {
    model.loadStateDict(vggStateDictFrom(model, raw, file));
  } catch (e) {
    model.dispose();
    throw e;
  }
  return model;
}
