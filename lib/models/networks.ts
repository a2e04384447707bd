/**
 * Networks by role and name for training configs (`networks.generator`, `networks.discriminator`,
 * `networks.flow_net`): every model-zoo entry of a training role under its zoo name, plus the
 * per-frame discriminator. A system builds what the config names through `buildNetwork` and sees
 * only the role's interface, so another generator plugs in with `registerNetwork` and a config
 * entry — no new training system.
 */
import type * as tf from '@tensorflow/tfjs-core';
import type { Module } from '../nn/module';
import { Discriminator2D } from './discriminator';
import type { InpaintGenerator } from './propainter';
import { BuildOptions, ZOO } from './zoo';

/** An inpainting generator as the ProPainter system trains it (InpaintGenerator's forward). */
export interface VideoInpainter extends Module {
  /**
   * frames [B, T, H, W, 3] (image-propagated locals, then references), flows [B, numLocal−1, H, W, 2]
   * forward/backward, masksIn / masksUpdated [B, T, H, W, 1] → frames [B, T, H, W, 3] in training
   * mode (all frames), [B, numLocal, …] in eval mode.
   */
  forward: InpaintGenerator['forward'];
}

/** A flow-completion network (RecurrentFlowCompleteNet's training and completion entry points). */
export interface FlowCompleter extends Module {
  /** Both directions; edges only in training mode. */
  forwardBidirectFlow(flows: [tf.Tensor5D, tf.Tensor5D], masks: tf.Tensor5D): { flows: [tf.Tensor5D, tf.Tensor5D]; edges: [tf.Tensor5D, tf.Tensor5D] | null };
  /** Prediction inside the hole, the input flow outside. */
  combineFlow(flows: [tf.Tensor5D, tf.Tensor5D], preds: [tf.Tensor5D, tf.Tensor5D], masks: tf.Tensor5D): [tf.Tensor5D, tf.Tensor5D];
}

/** A video discriminator: clip [B, T, H, W, 3] → patch scores. */
export interface VideoDiscriminator extends Module {
  forward(video: tf.Tensor5D): tf.Tensor;
}

export interface TrainableRoles {
  generator: VideoInpainter;
  flow_completion: FlowCompleter;
  discriminator: VideoDiscriminator;
}
export type TrainableRole = keyof TrainableRoles;

type Factory<R extends TrainableRole> = (opts: BuildOptions) => TrainableRoles[R];

const REGISTRY: { [R in TrainableRole]: Map<string, Factory<R>> } = {
  generator: new Map(),
  flow_completion: new Map(),
  discriminator: new Map(),
};

/** Methods each role's networks must have (checked when one is built). */
const METHODS: Record<TrainableRole, string[]> = {
  generator: ['forward'],
  flow_completion: ['forwardBidirectFlow', 'combineFlow'],
  discriminator: ['forward'],
};

/** Adds a network under `name` for `role`; a taken name is an error. */
export function registerNetwork<R extends TrainableRole>(role: R, name: string, factory: Factory<R>): void {
  const reg = REGISTRY[role] as Map<string, Factory<R>>;
  if (reg.has(name)) throw new Error(`network "${name}" is already registered as a ${role}`);
  reg.set(name, factory);
}

/** Names registered for a role. */
export function networkNames(role: TrainableRole): string[] {
  return [...REGISTRY[role].keys()];
}

/** Builds the `role` network registered as `name`; an unknown name is an error listing the known ones. */
export function buildNetwork<R extends TrainableRole>(role: R, name: string, opts: BuildOptions = {}): TrainableRoles[R] {
  const factory = (REGISTRY[role] as Map<string, Factory<R>>).get(name);
  if (!factory) throw new Error(`unknown ${role} network "${name}"; registered: ${networkNames(role).join(', ')}`);
  const net = factory(opts);
  const missing = METHODS[role].filter((m) => typeof (net as unknown as Record<string, unknown>)[m] !== 'function');
  if (missing.length) throw new Error(`${role} network "${name}" lacks ${missing.join(', ')}()`);
  return net;
}

for (const entry of Object.values(ZOO)) {
  if (entry.role in REGISTRY) registerNetwork(entry.role as TrainableRole, entry.name, (o) => entry.build(o) as TrainableRoles[TrainableRole]);
}
registerNetwork('discriminator', 'discriminator_2d', (o) => new Discriminator2D({ useSigmoid: o.useSigmoid }));
