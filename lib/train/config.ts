/**
 * Training configs. `CONFIG_SCHEMA` is the single source of the keys, their types (`TrainConfig`
 * is derived from it), defaults and documentation (docs/config.md is generated from it). Three
 * spellings are accepted and normalised to it:
 *   - the documented format (configs/*.json): name, model, datasets.train, networks, train, loss, …;
 *   - the training guide's blocks as written (`model: "flowcomp"`, `data_root`, `size: [W, H]`,
 *     `num_frames`, `datasets.train.batch_size`, `num_ref_frames: -1`, `warmup: -1`, `fp16` +
 *     `opt_level`, `model_parallel`, `strict_load`, comments in JSONC files) — `SPELLINGS`;
 *   - the official repository's format (train_data_loader, losses, model, trainer) — `fromOfficial`.
 * Loss weights are the `*_weight` keys of the registered loss terms (lib/losses): a term added to
 * the registry is configurable without touching this file.
 */
import * as fs from 'fs';
import * as path from 'path';
import { ConfigError, Field, Infer, applyOverrides, arr, bool, num, obj, str, union, validate } from './schema';
import { lossTerms, lossWeightKeys, LossKind, termWeight } from '../losses/registry';
import { TrainableRole, networkNames } from '../models/networks';

/** The training systems, what they train and their per-model defaults. */
export const MODELS = {
  propainter: {
    title: 'ProPainter (InpaintGenerator + discriminator, frozen RAFT and flow completion)',
    noun: 'ProPainter',
    losses: 'generator',
    role: 'generator',
    defaults: { 'datasets.train.num_ref_frames': 6, 'networks.generator': 'propainter', 'networks.discriminator': 'discriminator' },
  },
  recurrent_flow_completion: {
    title: 'recurrent flow completion network (frozen RAFT)',
    noun: 'flow-completion',
    losses: 'flow',
    role: 'flow_completion',
    defaults: { 'datasets.train.num_ref_frames': 1, 'networks.generator': 'flowcomp', 'networks.discriminator': 'none' },
  },
} as const satisfies Record<string, { title: string; noun: string; losses: LossKind; role: TrainableRole; defaults: Record<string, unknown> }>;
export type ModelKind = keyof typeof MODELS;
/** Other names of the models: the guide's `flowcomp` (the model zoo's name). */
const MODEL_ALIASES: Record<string, ModelKind> = { flowcomp: 'recurrent_flow_completion' };

/** datasets.train.skip_bad_samples: unreadable samples in a row after which training stops anyway (a broken dataset). */
export const MAX_BAD_SAMPLES_IN_A_ROW = 10;

const int = (dflt: number | undefined, min: number, doc: string) => num({ integer: true, min, default: dflt, doc });
const weightsPath = (doc: string) => str({ optional: true, doc });

export const CONFIG_SCHEMA = obj({
  doc: 'a training config',
  fields: {
    name: str({ default: '', doc: 'run name; default: the config file name (or the model)' }),
    model: str({ enum: ['propainter', 'recurrent_flow_completion'], doc: 'what to train (guide: `flowcomp` = recurrent_flow_completion)' }),
    gpu_ids: arr({ items: int(undefined, 0, 'device index'), default: [0], minItems: 1, doc: 'devices by local rank: with N entries `propainter train` runs N data-parallel processes (MPI), each seeing one GPU; the total train.batch_size is split over them (docs/distributed.md)' }),
    seed: int(2023, 0, 'seed of from-scratch weights, data order, masks and augmentation'),
    save_dir: str({ default: '', doc: 'run folder (checkpoints, logs, samples); default experiments/<name>' }),
    strict_load: bool({ default: true, doc: 'weights loaded from files (init_*, --resume) must match the networks key for key; false loads the matching keys and lists the rest once' }),
    fp16: bool({ default: false, doc: 'mixed precision: TF.js has no float16 training path, so true is reported once and training runs in float32' }),
    opt_level: str({ enum: ['O0', 'O1', 'O2', 'O3'], optional: true, doc: 'apex optimisation level of the guide\'s fp16 block; O1–O3 are reported with fp16' }),
    model_parallel: bool({ default: false, doc: 'split the networks over devices: TF.js runs a network on one device, so true is reported once and ignored' }),
    grad_accum: int(1, 1, 'micro-batches per optimizer step (gradients averaged)'),
    grad_clip: num({ min: 0, default: 0, doc: 'clip the global gradient norm to this (0 = off)' }),
    progressive: obj({
      optional: true,
      doc: 'progressive resizing of the training clips',
      fields: {
        start_size: arr({ items: int(undefined, 8, 'pixels'), minItems: 2, maxItems: 2, doc: 'first size [W, H]' }),
        end_size: arr({ items: int(undefined, 8, 'pixels'), minItems: 2, maxItems: 2, doc: 'last size [W, H] = datasets.train [width, height]' }),
        grow_steps: union({
          options: [int(undefined, 1, 'iterations'), arr({ items: int(undefined, 1, 'iteration'), minItems: 1, doc: 'iterations' })],
          doc: 'a list of iterations: the size steps up at each, in equal steps from start_size to end_size (multiples of 8); a number N: linear growth over N iterations',
        }),
      },
    }),
    datasets: obj({
      doc: 'training and validation data',
      fields: {
        train: obj({
          doc: 'the training set (official TrainDataset)',
          fields: {
            name: str({ default: 'dataset', doc: 'a label' }),
            root: str({ doc: 'dataset root holding JPEGImages_<W>_<H>/ (or JPEGImages/) and train.json (guide: `data_root`, which may also name the frames folder itself)' }),
            frames_dir: str({ optional: true, doc: 'frames folder relative to root (default: JPEGImages_<W>_<H>, the only JPEGImages_*_*, or JPEGImages)' }),
            index: str({ optional: true, doc: 'split file (default <root>/train.json; only its keys are used)' }),
            flow_root: str({ optional: true, doc: 'precomputed flows <flow_root>/<video>/<a>_<b>_{f,b}.flo (default <root>/flows)' }),
            load_flow: bool({ default: false, doc: 'ground-truth flows from flow_root instead of RAFT during training; default true when flow_root is given without it' }),
            mask_root: str({ optional: true, doc: 'fixed training masks <mask_root>/<video>/<i:05d>.png instead of the official random masks' }),
            width: int(432, 8, 'frame width (guide: `size: [W, H]`)'),
            height: int(240, 8, 'frame height'),
            num_local_frames: int(10, 2, 'consecutive frames per clip (guide: `num_frames`, then without references)'),
            num_ref_frames: int(MODELS.propainter.defaults['datasets.train.num_ref_frames'], 0, 'random reference frames per clip (-1 = the model\'s default)'),
            flip: bool({ default: true, doc: 'random horizontal flip (p 0.5), flows negated' }),
            random_reverse_clip: bool({ default: true, doc: 'random temporal reversal of the local frames (p 0.5), flow directions swapped' }),
            num_workers: int(0, 0, 'data worker threads (0 = load in the training thread)'),
            prefetch: int(2, 1, 'batches in flight with workers'),
            skip_bad_samples: bool({
              default: false,
              doc: `an unreadable sample (corrupt frame or flow) is logged and replaced by the next video's; after ${MAX_BAD_SAMPLES_IN_A_ROW} in a row training stops. false: the first one stops training with an error naming the file`,
            }),
            videos: arr({ items: str({ doc: 'video' }), optional: true, doc: 'explicit video list instead of the split file' }),
            synth: obj({
              optional: true,
              doc: 'build a synthetic set with exact .flo flows at root when it does not exist yet',
              fields: {
                videos: int(1, 1, 'videos'),
                frames: int(20, 2, 'frames per video'),
                seed: int(0, 0, 'seed'),
                objects: num({ integer: true, min: 0, optional: true, doc: 'moving objects per video' }),
                max_speed: int(4, 1, 'largest object speed (px per frame)'),
                source: str({ optional: true, doc: 'frames (folder or video) textured onto the synthetic scenes' }),
              },
            }),
          },
        }),
        val: obj({
          optional: true,
          doc: 'held-out videos (official TestDataset), validated every train.val_freq iterations',
          fields: {
            root: str({ doc: 'dataset root with test_masks/' }),
            videos: arr({ items: str({ doc: 'video' }), optional: true, doc: 'explicit video list (default: the mask folders)' }),
            max_frames: int(20, 2, 'first frames of each video'),
            max_videos: int(0, 0, 'first N videos (0 = all)'),
            width: int(432, 8, 'frame width'),
            height: int(240, 8, 'frame height'),
            dilation: int(4, 0, 'cross-dilation iterations of the test masks (official 4)'),
            load_flow: bool({ optional: true, doc: 'ground-truth .flo flows (default: like datasets.train.load_flow)' }),
            flow_root: str({ optional: true, doc: 'flow folder (default <root>/flows)' }),
            lpips: str({ optional: true, doc: 'LPIPS weights for an LPIPS metric (off when unset)' }),
            lpips_net: str({ enum: ['alex', 'vgg'], default: 'alex', doc: 'LPIPS trunk' }),
            lpips_trunk: str({ optional: true, doc: 'torchvision AlexNet / VGG16 weights when lpips holds only the linear heads' }),
          },
        }),
      },
    }),
    networks: obj({
      doc: 'the networks (names from the model zoo, lib/models/networks.ts) and their weight files',
      fields: {
        generator: str({ default: MODELS.propainter.defaults['networks.generator'], doc: 'the trained network: an inpainting generator (propainter) or a flow-completion network (flowcomp); default by model' }),
        discriminator: str({ default: MODELS.propainter.defaults['networks.discriminator'], doc: 'discriminator (discriminator = 3-D T-PatchGAN, discriminator_2d = per frame) or none; true/false accepted; guide/official `dis_2d`, `no_dis`' }),
        flow_net: str({ default: 'flowcomp', doc: 'frozen flow-completion network of propainter training' }),
        flow_completion: weightsPath('its weights: .pth / .safetensors or a flow-completion run folder; default: the newest flow-completion run beside save_dir (experiments/), else weights/recurrent_flow_completion.pth'),
        raft: weightsPath('RAFT weights for ground-truth flows when datasets.train.load_flow is false; default weights/raft-things.pth'),
        raft_iters: int(20, 1, 'RAFT refinement iterations'),
        init_generator: weightsPath('start the trained network from these weights (fine-tuning, e.g. weights/ProPainter.pth)'),
        init_discriminator: weightsPath('start the discriminator from these weights'),
        allow_det_init: bool({ default: false, doc: 'frozen networks whose weights are not set (or not found) use deterministic untrained weights instead of the default locations (tests, quick runs)' }),
        interp_mode: str({ enum: ['nearest', 'bilinear'], default: 'nearest', doc: 'image propagation warp mode (official nearest)' }),
      },
    }),
    train: obj({
      doc: 'optimisation and cadences',
      fields: {
        lr: num({ min: 0, exclusiveMin: true, default: 1e-4, doc: 'learning rate (both networks)' }),
        d_lr: num({ min: 0, exclusiveMin: true, optional: true, doc: 'discriminator learning rate (default lr)' }),
        lr_scheme: str({ enum: ['MultiStepLR', 'CosineAnnealingRestartLR', 'constant'], default: 'MultiStepLR', doc: 'schedule, a function of the iteration' }),
        lr_steps: arr({ items: int(undefined, 1, 'iteration'), default: [], doc: 'MultiStepLR milestones' }),
        lr_gamma: num({ min: 0, exclusiveMin: true, default: 0.1, doc: 'MultiStepLR factor per milestone' }),
        cosine_periods: arr({ items: int(undefined, 1, 'iterations'), default: [], doc: 'CosineAnnealingRestartLR periods' }),
        eta_min: num({ min: 0, default: 0, doc: 'CosineAnnealingRestartLR floor' }),
        total_iter: int(700000, 1, 'iterations'),
        warmup: int(0, 0, 'linear warm-up iterations from warmup_lr (guide: -1 = none; also accepted at the top level)'),
        warmup_lr: num({ min: 0, default: 0, doc: 'learning rate at iteration 0 of the warm-up' }),
        beta1: num({ min: 0, max: 0.999999, default: 0, doc: 'Adam β1 (official 0)' }),
        beta2: num({ min: 0, max: 0.999999, default: 0.99, doc: 'Adam β2 (official 0.99)' }),
        weight_decay: num({ min: 0, default: 0, doc: 'Adam L2 weight decay' }),
        save_freq: int(10000, 1, 'checkpoint every N iterations'),
        val_freq: int(0, 0, 'validate every N iterations (0 = never)'),
        log_freq: int(100, 1, 'progress line / TensorBoard averages every N iterations'),
        image_freq: int(200, 0, 'sample images every N iterations (0 = never)'),
        batch_size: int(8, 1, 'total batch (guide: also under datasets.train)'),
        keep_checkpoints: int(0, 0, 'keep the newest N checkpoints in save_dir, deleting older ones after each save (0 = keep all); the one latest.json names and official .pth files are never deleted'),
      },
    }),
    loss: obj({
      doc: 'loss terms (`<term>_weight`, lib/losses/terms) and their options',
      fields: {
        gan_type: str({ enum: ['hinge', 'nsgan', 'lsgan'], default: 'hinge', doc: 'adversarial loss (official GAN_LOSS)' }),
        vgg: str({ optional: true, doc: 'VGG19 weights (torchvision vgg19-dcbb9e9d.pth) for the perceptual and style terms; default weights/vgg19-dcbb9e9d.pth, else experiments/pretrained_models/vgg19-dcbb9e9d.pth (the official location)' }),
        lpips: str({ optional: true, doc: 'LPIPS(vgg) weights for the lpips term' }),
        lpips_trunk: str({ optional: true, doc: 'torchvision VGG16 weights when loss.lpips holds only the linear heads' }),
      },
      extra: { suffix: '_weight', field: num({ min: 0, doc: 'weight' }), allowed: lossWeightKeys, what: 'loss weight' },
    }),
  },
});

export type TrainConfig = Infer<typeof CONFIG_SCHEMA>;
export type DatasetConfig = TrainConfig['datasets']['train'];
export type ValConfig = NonNullable<TrainConfig['datasets']['val']>;
export type LrScheme = TrainConfig['train']['lr_scheme'];

/** Other spellings (the guide's, and datasets.train.fixed_masks of earlier configs) and what they become; `fromGuide` applies them. */
export const SPELLINGS: ReadonlyArray<[string, string]> = [
  ['model: "flowcomp"', 'model: "recurrent_flow_completion"'],
  ['datasets.train.data_root', 'datasets.train.root; a frames folder (…/JPEGImages_432_240) becomes root = its parent + frames_dir'],
  ['datasets.train.size: [W, H]', 'datasets.train.width, height'],
  ['datasets.train.num_frames', 'datasets.train.num_local_frames, with num_ref_frames 0 unless given'],
  ['datasets.train.num_ref_frames: -1', 'the model\'s default (6 for propainter, 1 for recurrent_flow_completion), reported'],
  ['datasets.train.batch_size', 'train.batch_size (the total batch)'],
  ['datasets.train.flow_root without load_flow', 'load_flow: true'],
  ['datasets.train.fixed_masks: true', 'mask_root: <root>/test_masks'],
  ['train.warmup: -1', 'train.warmup: 0 (no warm-up)'],
  ['warmup, warmup_lr at the top level', 'train.warmup, train.warmup_lr'],
  ['loss.l1_weight', 'loss.hole_weight and loss.valid_weight when those are absent'],
  ['networks.discriminator: true / false, networks.dis_2d: true', 'networks.discriminator: "discriminator" / "none" / "discriminator_2d"'],
];

/** True when `raw` is in the official repository's format. */
export function isOfficialFormat(raw: Record<string, unknown>): boolean {
  return 'train_data_loader' in raw || 'trainer' in raw || 'losses' in raw;
}

/** Converts an official config (configs/train_*.json of sczhou/ProPainter) to the documented format. */
export function fromOfficial(raw: Record<string, any>): Record<string, unknown> {
  const known = new Set(['seed', 'save_dir', 'train_data_loader', 'losses', 'model', 'trainer', 'gpu_ids', 'name']);
  const problems = Object.keys(raw).filter((k) => !known.has(k)).map((k) => `${k}: unknown key in an official-format config`);
  if (problems.length) throw new ConfigError(problems);
  const dl = raw.train_data_loader ?? {};
  const tr = raw.trainer ?? {};
  const ls = raw.losses ?? {};
  const mdl = raw.model ?? {};
  const model = mdl.net === 'recurrent_flow_completion' ? 'recurrent_flow_completion' : 'propainter';
  const sched = tr.scheduler ?? {};
  const out: Record<string, any> = {
    model,
    seed: raw.seed,
    datasets: {
      train: {
        name: dl.name,
        root: dl.video_root,
        // The official loader always reads ./datasets/<name>/train.json (spec §11.2).
        index: dl.name ? `datasets/${dl.name}/train.json` : undefined,
        flow_root: dl.flow_root,
        width: dl.w,
        height: dl.h,
        num_local_frames: dl.num_local_frames,
        num_ref_frames: dl.num_ref_frames,
        load_flow: dl.load_flow,
        num_workers: tr.num_workers,
        prefetch: tr.num_prefetch_queue,
      },
    },
    train: {
      lr: tr.lr,
      lr_scheme: sched.type === 'CosineAnnealingRestartLR' ? 'CosineAnnealingRestartLR' : 'MultiStepLR',
      lr_steps: sched.milestones,
      lr_gamma: sched.gamma,
      total_iter: tr.iterations,
      beta1: tr.beta1,
      beta2: tr.beta2,
      save_freq: tr.save_freq,
      log_freq: tr.log_freq,
      batch_size: tr.batch_size,
    },
    loss: {},
    networks: {
      init_generator: tr.gen_path,
      init_discriminator: tr.dis_path,
    },
  };
  if (raw.name) out.name = raw.name;
  if (raw.gpu_ids) out.gpu_ids = raw.gpu_ids;
  if (raw.save_dir) out.save_dir = raw.save_dir;
  if (model === 'propainter') {
    out.loss = {
      hole_weight: ls.hole_weight,
      valid_weight: ls.valid_weight,
      adversarial_weight: ls.adversarial_weight,
      flow_weight: ls.flow_weight,
      gan_type: ls.GAN_LOSS,
      // The official trainer's perceptual_weight switches on LPIPSLoss: our lpips term.
      lpips_weight: ls.perceptual_weight,
    };
    Object.assign(out.networks, {
      interp_mode: mdl.interp_mode,
      discriminator: mdl.no_dis ? 'none' : mdl.dis_2d ? 'discriminator_2d' : undefined,
    });
  } else {
    out.loss = { flow_weight: ls.flow_weight };
  }
  return stripUndefined(out) as Record<string, unknown>;
}

function stripUndefined(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(stripUndefined);
  if (v && typeof v === 'object') {
    const o: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) if (x !== undefined) o[k] = stripUndefined(x);
    return o;
  }
  return v;
}

type Obj = Record<string, any>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Sets `to[tk]` (from the key `fromPath`); a different value already there is a problem naming both keys. */
function assign(to: Obj, tk: string, value: unknown, fromPath: string, toPath: string, problems: string[]): void {
  if (to[tk] !== undefined && JSON.stringify(to[tk]) !== JSON.stringify(value)) problems.push(`${fromPath}: conflicts with ${toPath} ${JSON.stringify(to[tk])}; give one of them`);
  else to[tk] = value;
}

/** Moves `from[fk]` to `to[tk]` (see assign). */
function move(from: Obj, fk: string, fromPath: string, to: Obj, tk: string, toPath: string, problems: string[]): void {
  if (!(fk in from)) return;
  const v = from[fk];
  delete from[fk];
  assign(to, tk, v, fromPath, toPath, problems);
}

/**
 * The guide's spellings (SPELLINGS) → the documented format, in place. Only keys that are
 * present are touched; `notes` receives what is worth saying once.
 */
function fromGuide(raw: Obj, problems: string[], notes: string[]): void {
  if (typeof raw.model === 'string' && MODEL_ALIASES[raw.model]) raw.model = MODEL_ALIASES[raw.model];
  const train: Obj = isObj(raw.train) ? raw.train : (raw.train = {});
  // -1 = no warm-up (BasicSR): the default, so the guide's top-level warm-up block can switch it on.
  if (train.warmup === -1) delete train.warmup;
  move(raw, 'warmup', 'warmup', train, 'warmup', 'train.warmup', problems);
  move(raw, 'warmup_lr', 'warmup_lr', train, 'warmup_lr', 'train.warmup_lr', problems);
  const ds = isObj(raw.datasets) && isObj(raw.datasets.train) ? (raw.datasets.train as Obj) : null;
  if (ds) {
    const at = 'datasets.train';
    if (typeof ds.data_root === 'string') {
      const dir = ds.data_root.replace(/[\\/]+$/, '');
      delete ds.data_root;
      // The guide's ProPainter block names the frames folder itself.
      const framesFolder = /^JPEGImages(_\d+_\d+)?$/.test(path.basename(dir));
      assign(ds, 'root', framesFolder ? path.dirname(dir) : dir, `${at}.data_root`, `${at}.root`, problems);
      if (framesFolder) assign(ds, 'frames_dir', path.basename(dir), `${at}.data_root`, `${at}.frames_dir`, problems);
    }
    if ('size' in ds) {
      const size = ds.size;
      delete ds.size;
      if (!Array.isArray(size) || size.length !== 2) problems.push(`${at}.size: expected [width, height], got ${JSON.stringify(size)}`);
      else {
        assign(ds, 'width', size[0], `${at}.size`, `${at}.width`, problems);
        assign(ds, 'height', size[1], `${at}.size`, `${at}.height`, problems);
      }
    }
    if ('num_frames' in ds) {
      move(ds, 'num_frames', `${at}.num_frames`, ds, 'num_local_frames', `${at}.num_local_frames`, problems);
      ds.num_ref_frames ??= 0;
    }
    if (ds.num_ref_frames === -1) {
      delete ds.num_ref_frames;
      const model = raw.model as ModelKind;
      if (model in MODELS) notes.push(`${at}.num_ref_frames -1: ${MODELS[model].defaults['datasets.train.num_ref_frames']} reference frames (the ${model} default)`);
    }
    move(ds, 'batch_size', `${at}.batch_size`, train, 'batch_size', 'train.batch_size', problems);
    if (ds.fixed_masks === true && typeof ds.root === 'string') ds.mask_root ??= path.join(ds.root, 'test_masks');
    delete ds.fixed_masks;
    if (ds.flow_root !== undefined && ds.load_flow === undefined) ds.load_flow = true;
  }
  const nets = isObj(raw.networks) ? raw.networks : null;
  if (nets) {
    const d = nets.discriminator;
    if (d === true || d === 1 || (d === undefined && nets.dis_2d)) nets.discriminator = nets.dis_2d ? 'discriminator_2d' : 'discriminator';
    else if (d === false || d === 0) nets.discriminator = 'none';
    delete nets.dis_2d;
  }
}

/** Fills the model's defaults (MODELS[model].defaults) for keys the config leaves out. */
function applyModelDefaults(raw: Obj, model: ModelKind): void {
  for (const [key, value] of Object.entries(MODELS[model].defaults)) {
    const parts = key.split('.');
    let node = raw;
    for (const p of parts.slice(0, -1)) node = isObj(node[p]) ? node[p] : (node[p] = {});
    if (node[parts[parts.length - 1]] === undefined) node[parts[parts.length - 1]] = value;
  }
}

export interface ResolveOptions {
  /** Names the file in errors. */
  source?: string;
  /** `key.path=value` overrides (applied before the guide's spellings are normalised). */
  sets?: string[];
  defaultName?: string;
  /** Receives what is worth saying once: ignored settings (fp16, model_parallel), unused loss weights, -1 defaults. */
  report?: (line: string) => void;
}

/**
 * Validates a raw config (any of the three spellings) and fills defaults. Idempotent: a resolved
 * config resolves to itself (and reports the same ignored settings again).
 */
export function resolveConfig(raw: Record<string, unknown>, opts: ResolveOptions = {}): TrainConfig {
  let spelled = isOfficialFormat(raw) ? fromOfficial(raw) : raw;
  spelled = opts.sets?.length ? applyOverrides(spelled, opts.sets) : structuredClone(spelled);
  const problems: string[] = [];
  const notes: string[] = [];
  fromGuide(spelled, problems, notes);
  const model = spelled.model as ModelKind;
  if (typeof model === 'string' && model in MODELS) applyModelDefaults(spelled, model);
  const cfg = validate(CONFIG_SCHEMA, spelled, '', problems) as TrainConfig;
  if (problems.length === 0) checkConfig(cfg, problems);
  if (problems.length) throw new ConfigError(problems, opts.source);
  if (!cfg.name) cfg.name = opts.defaultName ?? cfg.model;
  if (!cfg.save_dir) cfg.save_dir = path.join('experiments', cfg.name);
  notes.push(...resolveLossWeights(cfg), ...ignoredSettings(cfg));
  for (const n of notes) opts.report?.(n);
  return cfg;
}

/** Cross-key rules the schema cannot express. */
function checkConfig(cfg: TrainConfig, problems: string[]): void {
  const d = cfg.datasets.train;
  if (d.width % 8 || d.height % 8) problems.push('datasets.train.width/height: must be multiples of 8');
  if (cfg.train.lr_scheme === 'CosineAnnealingRestartLR' && cfg.train.cosine_periods.length === 0) problems.push('train.cosine_periods: required for CosineAnnealingRestartLR');
  if (cfg.train.warmup > 0 && cfg.train.warmup_lr > cfg.train.lr) problems.push(`train.warmup_lr: ${cfg.train.warmup_lr} exceeds train.lr ${cfg.train.lr}`);
  const p = cfg.progressive;
  if (p) {
    const [s, e] = [p.start_size, p.end_size];
    if (s[0] > e[0] || s[1] > e[1]) problems.push('progressive.start_size: must not exceed progressive.end_size');
    if (e[0] !== d.width || e[1] !== d.height) problems.push(`progressive.end_size: must equal [datasets.train.width, datasets.train.height] = [${d.width}, ${d.height}]`);
    if (Array.isArray(p.grow_steps) && p.grow_steps.some((v, i) => i > 0 && v <= (p.grow_steps as number[])[i - 1])) problems.push('progressive.grow_steps: must increase');
  }
  const role = MODELS[cfg.model].role;
  const n = cfg.networks;
  if (!networkNames(role).includes(n.generator)) problems.push(`networks.generator: "${n.generator}" is not a ${role} network (${networkNames(role).join(', ')})`);
  if (n.discriminator !== 'none' && !networkNames('discriminator').includes(n.discriminator)) {
    problems.push(`networks.discriminator: "${n.discriminator}" is not a discriminator (${[...networkNames('discriminator'), 'none'].join(', ')})`);
  }
  if (!networkNames('flow_completion').includes(n.flow_net)) problems.push(`networks.flow_net: "${n.flow_net}" is not a flow-completion network (${networkNames('flow_completion').join(', ')})`);
}

/**
 * Writes every loss term of the model with its weight (aliases such as l1_weight resolved, then
 * dropped) so that `run.config.loss.<term>_weight` is there to edit; returns notes on weights the
 * model does not use.
 */
function resolveLossWeights(cfg: TrainConfig): string[] {
  const loss = cfg.loss as Record<string, unknown>;
  const kind = MODELS[cfg.model].losses;
  const terms = lossTerms(kind);
  const used = new Set<string>();
  for (const t of terms) {
    const w = termWeight(t, loss);
    for (const k of [t.weightKey, ...(t.aliases ?? [])]) if (k in loss) used.add(k);
    loss[t.weightKey] = w;
  }
  for (const t of terms) for (const a of t.aliases ?? []) delete loss[a];
  const own = new Set(terms.map((t) => t.weightKey));
  return Object.keys(loss)
    .filter((k) => k.endsWith('_weight') && !own.has(k) && !used.has(k))
    .map((k) => `loss.${k}: not used by ${cfg.model} training (its loss terms: ${terms.map((t) => t.weightKey).join(', ')})`);
}

/** Settings the backends cannot honour: said once, never fatal. */
function ignoredSettings(cfg: TrainConfig): string[] {
  const out: string[] = [];
  const level = cfg.opt_level && cfg.opt_level !== 'O0' ? ` (opt_level ${cfg.opt_level})` : '';
  if (cfg.fp16 || level) out.push(`fp16${level}: TF.js has no float16 training path on any backend; training in float32 (the setting is ignored)`);
  if (cfg.model_parallel) out.push('model_parallel: TF.js runs each network on one device; the networks train on one device (the setting is ignored)');
  return out;
}

/** JSON with line (//) and block comments (the guide's multi-GPU block carries one). */
export function parseJsonc(text: string): unknown {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      const start = i;
      for (i++; i < text.length && text[i] !== '"'; i++) if (text[i] === '\\') i++;
      out += text.slice(start, i + 1);
    } else if (c === '/' && text[i + 1] === '/') {
      while (i + 1 < text.length && text[i + 1] !== '\n') i++;
    } else if (c === '/' && text[i + 1] === '*') {
      const end = text.indexOf('*/', i + 2);
      i = end < 0 ? text.length : end + 1;
      out += ' ';
    } else out += c;
  }
  return JSON.parse(out);
}

/** Reads and resolves a config file (JSON or JSONC); relative paths inside stay relative to the working directory. */
export function loadConfig(file: string, sets: string[] = [], report?: (line: string) => void): TrainConfig {
  let raw: unknown;
  try {
    raw = parseJsonc(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new ConfigError([`cannot read JSON: ${(e as Error).message}`], file);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ConfigError(['(root): expected a JSON object'], file);
  return resolveConfig(raw as Record<string, unknown>, { source: file, sets, defaultName: path.basename(file).replace(/\.jsonc?$/, ''), report });
}
