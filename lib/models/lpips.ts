/**
 * LPIPS perceptual distance (the `lpips` package, v0.1): ScalingLayer → AlexNet or VGG16 trunk
 * (torchvision `features`, split into slice1..slice5 at the ReLUs) → unit-normalise each layer's
 * features over channels → squared difference → 1×1 linear heads lin0..lin4 (no bias; a Dropout
 * sits at index 0 of each head, hence `linK.model.1.weight`) → spatial mean → sum over layers.
 * State-dict keys match `lpips.LPIPS(net=…).state_dict()`: `scaling_layer.shift|scale`,
 * `net.sliceK.<torchvision index>.weight|bias`, `linK.model.1.weight` and their `lins.K.*` aliases.
 * Inputs are NHWC in [-1, 1] (or [0, 1] with `normalize: true`). Weights are user-supplied.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Module, Unary } from '../nn/module';
import { Conv2d, ModuleList, ReLU } from '../nn/layers';
import { interpolateBilinear } from '../ops';
import type { StateDict } from '../io/host-tensor';
import { Dropout, MaxPool2d, NCHW_VECTOR, NamedSequential, PRETRAINED_SOURCES, readWeightFile } from './vgg';
import { stripModulePrefix } from '../io/checkpoint';

export type LpipsNet = 'alex' | 'vgg';

/** (x − shift) / scale with the constants of lpips.ScalingLayer. */
export class ScalingLayer extends Module implements Unary {
  readonly shift: tf.Variable;
  readonly scale: tf.Variable;

  constructor() {
    super();
    this.shift = this.registerBuffer('shift', tf.tensor4d([-0.03, -0.088, -0.188], [1, 1, 1, 3]), { layout: NCHW_VECTOR });
    this.scale = this.registerBuffer('scale', tf.tensor4d([0.458, 0.448, 0.45], [1, 1, 1, 3]), { layout: NCHW_VECTOR });
  }

  forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => tf.div(tf.sub(x, this.shift), this.scale));
  }
}

type LayerSpec = ['conv', number, number, number, number, number] | ['relu'] | ['pool', number, number];

/** torchvision alexnet().features (first 12 layers, through the 5th ReLU). */
const ALEX_FEATURES: LayerSpec[] = [
  ['conv', 3, 64, 11, 4, 2], ['relu'], ['pool', 3, 2],
  ['conv', 64, 192, 5, 1, 2], ['relu'], ['pool', 3, 2],
  ['conv', 192, 384, 3, 1, 1], ['relu'],
  ['conv', 384, 256, 3, 1, 1], ['relu'],
  ['conv', 256, 256, 3, 1, 1], ['relu'],
];
const ALEX_SLICES = [0, 2, 5, 8, 10, 12];

/** torchvision vgg16().features (first 30 layers, through relu5_3). */
const VGG16_FEATURES: LayerSpec[] = (() => {
  const cfg: Array<number | 'M'> = [64, 64, 'M', 128, 128, 'M', 256, 256, 256, 'M', 512, 512, 512, 'M', 512, 512, 512];
  const out: LayerSpec[] = [];
  let ch = 3;
  for (const v of cfg) {
    if (v === 'M') out.push(['pool', 2, 2]);
    else {
      out.push(['conv', ch, v, 3, 1, 1], ['relu']);
      ch = v;
    }
  }
  return out;
})();
const VGG16_SLICES = [0, 4, 9, 16, 23, 30];

export const LPIPS_CHANNELS: Record<LpipsNet, number[]> = { alex: [64, 192, 384, 256, 256], vgg: [64, 128, 256, 512, 512] };

function buildLayer(s: LayerSpec): Module {
  if (s[0] === 'conv') return new Conv2d(s[1], s[2], s[3], { stride: s[4], padding: s[5] });
  if (s[0] === 'relu') return new ReLU();
  return new MaxPool2d(s[1], s[2]);
}

/** lpips.pretrained_networks.alexnet / vgg16: five slices returning the ReLU outputs. */
export class LpipsTrunk extends Module {
  readonly slices: NamedSequential[] = [];

  constructor(readonly net: LpipsNet) {
    super();
    const spec = net === 'alex' ? ALEX_FEATURES : VGG16_FEATURES;
    const bounds = net === 'alex' ? ALEX_SLICES : VGG16_SLICES;
    for (let k = 0; k < 5; k++) {
      const s = new NamedSequential();
      for (let i = bounds[k]; i < bounds[k + 1]; i++) s.add(String(i), buildLayer(spec[i]));
      this.slices.push(this.registerModule(`slice${k + 1}`, s));
    }
  }

  /** torchvision `features.<i>` index → this trunk's key prefix `sliceK.<i>`. */
  keyOfFeature(i: number): string | null {
    const bounds = this.net === 'alex' ? ALEX_SLICES : VGG16_SLICES;
    for (let k = 0; k < 5; k++) if (i >= bounds[k] && i < bounds[k + 1]) return `slice${k + 1}.${i}`;
    return null;
  }

  forward(x: tf.Tensor4D): tf.Tensor4D[] {
    return tf.tidy(() => {
      const outs: tf.Tensor4D[] = [];
      let h: tf.Tensor = x;
      for (const s of this.slices) outs.push((h = s.forward(h)) as tf.Tensor4D);
      return outs;
    });
  }
}

/** A 1×1 conv to one channel without bias, after a (here inert) Dropout: `model.{0,1}`. */
export class NetLinLayer extends Module implements Unary {
  readonly model: NamedSequential;

  constructor(chIn: number, chOut = 1, useDropout = true) {
    super();
    const layers: Array<[string, Module]> = useDropout ? [['0', new Dropout()]] : [];
    layers.push([String(layers.length), new Conv2d(chIn, chOut, 1, { bias: false })]);
    this.model = this.registerModule('model', new NamedSequential(layers));
  }

  forward(x: tf.Tensor): tf.Tensor {
    return this.model.forward(x);
  }
}

/** lpips.normalize_tensor: x / (‖x‖₂ over channels + eps). */
export function normalizeTensor(x: tf.Tensor, eps = 1e-10): tf.Tensor {
  return tf.tidy(() => tf.div(x, tf.add(tf.sqrt(tf.sum(tf.square(x), -1, true)), eps)));
}

export interface LpipsOptions {
  net?: LpipsNet;
  /** '0.1' (default) applies the ScalingLayer; '0.0' does not (the original release's bug). */
  version?: '0.1' | '0.0';
  /** Linear heads (true) or the plain channel-summed baseline (false). */
  lpips?: boolean;
  /** Return the per-pixel map [N, H, W, 1] (bilinear upsampling, align_corners=False). */
  spatial?: boolean;
  useDropout?: boolean;
}

export class LPIPS extends Module {
  readonly net: LpipsTrunk;
  readonly scaling_layer: ScalingLayer;
  readonly lins: NetLinLayer[] = [];
  readonly version: '0.1' | '0.0';
  readonly spatial: boolean;
  readonly useLins: boolean;
  readonly netType: LpipsNet;

  constructor(opts: LpipsOptions = {}) {
    super();
    this.netType = opts.net ?? 'alex';
    this.version = opts.version ?? '0.1';
    this.spatial = opts.spatial ?? false;
    this.useLins = opts.lpips ?? true;
    // Registration order = state_dict order of lpips.LPIPS: scaling_layer, net, lin0..lin4, lins.
    this.scaling_layer = this.registerModule('scaling_layer', new ScalingLayer());
    this.net = this.registerModule('net', new LpipsTrunk(this.netType));
    if (this.useLins) {
      LPIPS_CHANNELS[this.netType].forEach((c, k) => this.lins.push(this.registerModule(`lin${k}`, new NetLinLayer(c, 1, opts.useDropout ?? true))));
      // nn.ModuleList of the same heads: PyTorch lists their entries again under `lins.K`.
      this.registerModule('lins', new ModuleList<NetLinLayer>(this.lins));
    }
    this.requiresGrad(false);
    this.eval();
  }

  /**
   * Distance between in0 and in1 ([N, H, W, 3]): [N, 1, 1, 1], or [N, H, W, 1] when spatial.
   * `normalize` maps [0, 1] inputs to [-1, 1] first.
   */
  forward(in0: tf.Tensor4D, in1: tf.Tensor4D, opts: { normalize?: boolean } = {}): tf.Tensor4D {
    const { value, layers } = this.forwardPerLayer(in0, in1, opts);
    tf.dispose(layers);
    return value;
  }

  /** As forward, plus each layer's term (the `retPerLayer` output). */
  forwardPerLayer(in0: tf.Tensor4D, in1: tf.Tensor4D, opts: { normalize?: boolean } = {}): { value: tf.Tensor4D; layers: tf.Tensor4D[] } {
    const res = tf.tidy(() => {
      let a: tf.Tensor4D = in0;
      let b: tf.Tensor4D = in1;
      if (opts.normalize) {
        a = tf.sub(tf.mul(a, 2), 1);
        b = tf.sub(tf.mul(b, 2), 1);
      }
      if (this.version === '0.1') {
        a = this.scaling_layer.forward(a) as tf.Tensor4D;
        b = this.scaling_layer.forward(b) as tf.Tensor4D;
      }
      const f0 = this.net.forward(a);
      const f1 = this.net.forward(b);
      const [, h, w] = in0.shape;
      const layers = f0.map((o0, k) => {
        const d = tf.square(tf.sub(normalizeTensor(o0), normalizeTensor(f1[k])));
        const m = (this.useLins ? this.lins[k].forward(d) : tf.sum(d, -1, true)) as tf.Tensor4D;
        return this.spatial ? (interpolateBilinear(m, [h, w], { alignCorners: false }) as tf.Tensor4D) : (tf.mean(m, [1, 2], true) as tf.Tensor4D);
      });
      return [layers.reduce((acc, l) => tf.add(acc, l) as tf.Tensor4D), ...layers];
    });
    return { value: res[0], layers: res.slice(1) };
  }
}

/**
 * Maps checkpoints to LPIPS keys: a full LPIPS state dict (`net.sliceK.*`, `linK.*`), the lpips
 * package's head file (`linK.model.1.weight` only) plus a torchvision trunk (`features.<i>.*`),
 * `module.` prefixes, heads saved without dropout (`linK.model.0.weight`). The `lins.K` aliases
 * and the ScalingLayer constants are filled in.
 */
export function lpipsStateDictFrom(model: LPIPS, heads: StateDict, trunk: StateDict | null, file = 'LPIPS checkpoint'): StateDict {
  const want = model.stateDict();
  const out: StateDict = new Map();
  const put = (k: string, v: import('../io/host-tensor').HostTensor) => {
    if (want.has(k)) out.set(k, v);
  };
  for (const [k0, v] of stripModulePrefix(heads)) {
    const k = k0.replace(/^lins\.(\d+)\./, 'lin$1.');
    // Heads saved with the other use_dropout setting sit at model.0 / model.1.
    const other = k.replace(/\.model\.([01])\.weight$/, (_, i) => `.model.${1 - Number(i)}.weight`);
    put(want.has(k) ? k : other, v);
  }
  if (trunk) {
    for (const [k, v] of stripModulePrefix(trunk)) {
      const m = /^features\.(\d+)\.(.+)$/.exec(k);
      const key = m ? model.net.keyOfFeature(Number(m[1])) : null;
      if (m && key) put(`net.${key}.${m[2]}`, v);
      else if (k.startsWith('net.')) put(k, v);
    }
  }
  for (const [k, v] of want) {
    if (k.startsWith('lins.')) {
      const src = out.get(k.replace(/^lins\.(\d+)\./, 'lin$1.'));
      if (src) out.set(k, src);
    } else if (k.startsWith('scaling_layer.') && !out.has(k)) out.set(k, v);
  }
  const missing = [...want.keys()].filter((k) => !out.has(k));
  if (missing.length > 0) {
    const trunkMissing = missing.some((k) => k.startsWith('net.'));
    const hint = trunkMissing
      ? ` The trunk is missing: pass the torchvision ${model.netType === 'alex' ? 'AlexNet' : 'VGG16'} checkpoint as opts.trunk ` +
        `(${model.netType === 'alex' ? PRETRAINED_SOURCES.alexnet : PRETRAINED_SOURCES.vgg16}).`
      : '';
    throw new Error(`${file}: LPIPS(${model.netType}) weights incomplete; missing ${missing.slice(0, 6).join(', ')}${missing.length > 6 ? ', …' : ''}.${hint}`);
  }
  return out;
}

/**
 * LPIPS with pretrained weights: `file` = the lpips package's linear heads (weights/v0.1/<net>.pth)
 * or a full LPIPS state dict; `opts.trunk` = torchvision AlexNet/VGG16 checkpoint when `file`
 * holds only the heads. Nothing is downloaded; a missing file says where to get it.
 */
export function loadLpips(file: string, net: LpipsNet = 'alex', opts: Omit<LpipsOptions, 'net'> & { trunk?: string } = {}): LPIPS {
  const heads = readWeightFile(file, `LPIPS(${net}) linear heads`, net === 'alex' ? PRETRAINED_SOURCES.lpipsAlex : PRETRAINED_SOURCES.lpipsVgg);
  const trunk = opts.trunk
    ? readWeightFile(opts.trunk, net === 'alex' ? 'AlexNet' : 'VGG16', net === 'alex' ? PRETRAINED_SOURCES.alexnet : PRETRAINED_SOURCES.vgg16)
    : null;
  const model = new LPIPS({ ...opts, net });
  try {
    model.loadStateDict(lpipsStateDictFrom(model, heads, trunk, file));
  } catch (e) {
    model.dispose();
    throw e;
  }
  return model;
}
