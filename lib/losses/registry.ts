/**
 * Loss terms as a registry (BasicSR's LOSS registry, typed): a term is a small module with a name,
 * the tensors it needs, the config key of its weight and its default weight. A training system
 * asks for the terms of its kind and `weightedLoss` sums them — weights are applied here and
 * nowhere else, read from the live config at every evaluation, so a weight changed between two
 * steps takes effect at the next one. Frozen auxiliary networks (VGG19, LPIPS) are created by
 * `LossNetworks` the first time an active term needs them.
 *
 * Built-in terms live in ./terms (one file each, listed in ./terms/index.ts); code outside the
 * library adds one with `registerLossTerm` before the config is resolved (docs/extending.md).
 */
import * as fs from 'fs';
import * as tf from '@tensorflow/tfjs-core';
import type { FeatureMaps, GanType } from './generator';
import { PERCEPTUAL_LAYER_WEIGHTS, VGGFeatureExtractor, loadVgg19 } from '../models/vgg';
import { LPIPS, loadLpips } from '../models/lpips';
import { flattenClip } from '../ops/frames';
import { BUILTIN_TERMS } from './terms';

/** What the generator (ProPainter) terms see; clips [B, T, H, W, C], all T frames decoded. */
export interface GeneratorLossInputs {
  /** Generator output in [-1, 1]. */
  pred: tf.Tensor5D;
  /** Ground-truth frames. */
  gt: tf.Tensor5D;
  /** 1 = hole. */
  masks: tf.Tensor5D;
  /** gt·(1−m) + pred·m. */
  comp: tf.Tensor5D;
  /** The discriminator (its parameters get no gradient in the generator step), or null without one. */
  discriminator: ((video: tf.Tensor5D) => tf.Tensor) | null;
}

/** What the flow-completion terms see: [forward, backward] flows [B, T−1, H, W, 2]. */
export interface FlowLossInputs {
  pred: [tf.Tensor5D, tf.Tensor5D];
  gt: [tf.Tensor5D, tf.Tensor5D];
  /** [B, T, H, W, 1], 1 = hole. */
  masks: tf.Tensor5D;
  /** Ground-truth frames [B, T, H, W, 3] in [-1, 1]. */
  frames: tf.Tensor5D;
  /** Edge-head probabilities and Canny edges of the GT flows [B, T−1, H, W, 1] (training mode). */
  predEdges: [tf.Tensor5D, tf.Tensor5D] | null;
  gtEdges: [tf.Tensor5D, tf.Tensor5D] | null;
}

export interface LossInputs {
  generator: GeneratorLossInputs;
  flow: FlowLossInputs;
}
export type LossKind = keyof LossInputs;

/** Options of the config's `loss` block that terms read (besides weights). */
export interface LossOptions {
  gan_type: GanType;
  /** VGG19 weights for the perceptual and style terms. */
  vgg?: string;
  /** LPIPS(vgg) weights for the lpips term: a full state dict or the lpips package's heads. */
  lpips?: string;
  /** torchvision VGG16 weights when `lpips` holds only the linear heads. */
  lpips_trunk?: string;
}

export type AuxNetwork = 'vgg' | 'lpips';

/** Where VGG19 weights are looked for when loss.vgg is not set: ours, then the official vgg_arch.py's. */
export const VGG19_LOCATIONS = ['weights/vgg19-dcbb9e9d.pth', 'experiments/pretrained_models/vgg19-dcbb9e9d.pth'];

export interface LossContext {
  options: Readonly<LossOptions>;
  networks: LossNetworks;
  /** VGG features of a clip [B, T, H, W, 3] (conv3_4, conv4_4, conv5_4), computed once per evaluation. */
  vggFeatures(x: tf.Tensor5D): FeatureMaps;
}

export interface LossTerm<K extends LossKind = LossKind> {
  /** Short name, e.g. 'hole'. */
  name: string;
  kind: K;
  /** Config key of the weight (`loss.<weightKey>`), e.g. 'hole_weight'. */
  weightKey: string;
  /** Other keys that set the same weight when it is absent (the guide's `l1_weight`). */
  aliases?: readonly string[];
  /** Weight when the config does not give one; 0 = off unless configured. */
  defaultWeight: number;
  /** Logged scalar (the weighted value), e.g. 'loss/hole_loss'. */
  log: string;
  /** Frozen networks the term runs (created on first use). */
  networks?: readonly AuxNetwork[];
  /** One line for the config reference: what the term is and what it needs. */
  doc: string;
  /** The unweighted term (on the tape); null when its inputs are absent (no discriminator, no edge head). */
  compute(inputs: LossInputs[K], ctx: LossContext): tf.Scalar | null;
}

const TERMS = new Map<string, LossTerm>();

/** Adds a term; a name or weight key that is taken is an error (terms may share an alias). */
export function registerLossTerm<K extends LossKind>(term: LossTerm<K>): LossTerm<K> {
  for (const k of [term.weightKey, ...(term.aliases ?? [])]) {
    if (!k.endsWith('_weight')) throw new Error(`loss term "${term.name}": weight keys must end with _weight, got "${k}"`);
  }
  for (const t of TERMS.values()) {
    const taken = t.name === term.name || [t.weightKey, ...(t.aliases ?? [])].includes(term.weightKey) || (term.aliases ?? []).includes(t.weightKey);
    if (taken) throw new Error(`loss term "${term.name}" (${term.weightKey}): clashes with the registered term "${t.name}" (${t.weightKey})`);
  }
  TERMS.set(term.name, term as LossTerm);
  return term;
}

/** Registered terms, all or of one kind, in registration order. */
export function lossTerms<K extends LossKind>(kind?: K): Array<LossTerm<K>> {
  return [...TERMS.values()].filter((t) => kind === undefined || t.kind === kind) as Array<LossTerm<K>>;
}

/** Every config key that sets a weight (weight keys and their aliases). */
export function lossWeightKeys(): string[] {
  return [...new Set(lossTerms().flatMap((t) => [t.weightKey, ...(t.aliases ?? [])]))];
}

/** A term's weight in a `loss` block: its key, else its first present alias, else the default. */
export function termWeight(term: LossTerm, weights: Readonly<Record<string, unknown>>): number {
  for (const k of [term.weightKey, ...(term.aliases ?? [])]) {
    const w = weights[k];
    if (typeof w === 'number') return w;
  }
  return term.defaultWeight;
}

/**
 * Σ weight·term over the terms of `kind` with a non-zero weight — the one place where loss weights
 * are applied. `parts` holds each weighted term under its log name; a standard term (non-zero
 * default) switched off by a zero weight is logged as 0, an optional one is left out.
 * Call on the tape; auxiliary networks must exist (`networks.ensure`) before the tape starts.
 */
export function weightedLoss<K extends LossKind>(
  kind: K,
  weights: Readonly<Record<string, unknown>>,
  inputs: LossInputs[K],
  ctx: LossContext = lossContext({ gan_type: 'hinge' }, new LossNetworks(() => ({ gan_type: 'hinge' }))),
): { total: tf.Scalar; parts: Record<string, tf.Scalar> } {
  const parts: Record<string, tf.Scalar> = {};
  const active: tf.Scalar[] = [];
  for (const term of lossTerms(kind)) {
    const w = termWeight(term, weights);
    const value = w > 0 ? term.compute(inputs, ctx) : null;
    if (value) {
      const v = tf.mul(value, w) as tf.Scalar;
      parts[term.log] = v;
      active.push(v);
    } else if (w === 0 && term.defaultWeight > 0) parts[term.log] = tf.scalar(0);
  }
  if (active.length === 0) throw new Error(`loss: no ${kind} loss term is active (every weight is 0); nothing to train`);
  return { total: (active.length === 1 ? tf.clone(active[0]) : tf.addN(active)) as tf.Scalar, parts };
}

for (const t of BUILTIN_TERMS) registerLossTerm(t);

/** The terms of `kind` with a non-zero weight. */
export function activeTerms<K extends LossKind>(kind: K, weights: Readonly<Record<string, unknown>>): Array<LossTerm<K>> {
  return lossTerms(kind).filter((t) => termWeight(t, weights) > 0);
}

/**
 * The frozen networks loss terms run, created on first use from the live `loss` options (so a
 * notebook can set `loss.vgg` and `loss.perceptual_weight` between steps). Not on any tape.
 */
export class LossNetworks {
  private vggNet: VGGFeatureExtractor | null = null;
  private lpipsNet: LPIPS | null = null;

  constructor(
    private readonly options: () => Readonly<LossOptions>,
    private readonly log: (line: string) => void = () => undefined,
  ) {}

  /** Creates what `terms` need (call outside the gradient tape). */
  ensure(terms: readonly LossTerm[]): void {
    for (const t of terms) for (const n of t.networks ?? []) (n === 'vgg' ? this.vgg() : this.lpips());
  }

  vgg(): VGGFeatureExtractor {
    if (!this.vggNet) {
      const file = this.options().vgg ?? VGG19_LOCATIONS.find((f) => fs.existsSync(f));
      if (!file) {
        throw new Error(
          `loss.vgg: the perceptual/style terms need VGG19 weights (torchvision vgg19-dcbb9e9d.pth; nothing is downloaded): ` +
            `put them at ${VGG19_LOCATIONS.join(' or ')}, set loss.vgg, or set their weights to 0`,
        );
      }
      this.vggNet = loadVgg19(file, Object.keys(PERCEPTUAL_LAYER_WEIGHTS), { useInputNorm: true, rangeNorm: true });
      this.log(`loss: VGG19 ${Object.keys(PERCEPTUAL_LAYER_WEIGHTS).join(', ')} from ${file}`);
    }
    return this.vggNet;
  }

  lpips(): LPIPS {
    if (!this.lpipsNet) {
      const { lpips: file, lpips_trunk: trunk } = this.options();
      if (!file) throw new Error('loss.lpips: the lpips term needs LPIPS(vgg) weights (the lpips package\'s vgg.pth, with loss.lpips_trunk = torchvision vgg16); set loss.lpips or lpips_weight to 0');
      this.lpipsNet = loadLpips(file, 'vgg', { trunk });
      this.log(`loss: LPIPS(vgg) from ${file}${trunk ? ` + ${trunk}` : ''}`);
    }
    return this.lpipsNet;
  }

  dispose(): void {
    this.vggNet?.dispose();
    this.lpipsNet?.dispose();
    this.vggNet = this.lpipsNet = null;
  }
}

/** The context of one loss evaluation: options, networks, and a VGG-feature cache for that evaluation. */
export function lossContext(options: Readonly<LossOptions>, networks: LossNetworks): LossContext {
  const cache = new Map<tf.Tensor, FeatureMaps>();
  return {
    options,
    networks,
    vggFeatures(x) {
      let f = cache.get(x);
      if (!f) {
        f = networks.vgg().forward(flattenClip(x) as tf.Tensor4D);
        cache.set(x, f);
      }
      return f;
    },
  };
}
