/**
 * Training configs: the documented format (name, model, gpu_ids, datasets.train, train, loss,
 * progressive, fp16, grad_accum, grad_clip) and the official repository's format
 * (train_data_loader, losses, model, trainer{scheduler…}), which is converted to it.
 */
import * as fs from 'fs';
import * as path from 'path';
import { ConfigError, Field, applyOverrides, validate } from './schema';

export type ModelKind = 'propainter' | 'recurrent_flow_completion';
export type LrScheme = 'MultiStepLR' | 'CosineAnnealingRestartLR' | 'constant';

export interface DatasetConfig {
  name: string;
  root: string;
  flow_root?: string;
  index?: string;
  width: number;
  height: number;
  num_local_frames: number;
  num_ref_frames: number;
  load_flow: boolean;
  num_workers: number;
  prefetch: number;
  /** Fixed masks from `<root>/test_masks` instead of the random generator (overfit runs). */
  fixed_masks: boolean;
  videos?: string[];
  /** Build a synthetic set (exact .flo flows) at `root` when it does not exist yet. */
  synth?: { videos: number; frames: number; seed: number; objects?: number; max_speed: number; source?: string };
}

export interface ValConfig {
  root: string;
  videos?: string[];
  max_frames: number;
  /** Number of held-out videos used (the first N of the mask folder's sorted list; 0 = all). */
  max_videos: number;
  width: number;
  height: number;
  /** Cross-dilation iterations of the test masks (official 4). */
  dilation: number;
  /** Ground-truth .flo flows of the val set (default: like datasets.train.load_flow). */
  load_flow?: boolean;
  flow_root?: string;
  /** LPIPS weights (the lpips package's linear heads or a full LPIPS state dict); off when unset. */
  lpips?: string;
  lpips_net: 'alex' | 'vgg';
  /** torchvision AlexNet / VGG16 trunk when `lpips` holds only the linear heads. */
  lpips_trunk?: string;
}

export interface TrainConfig {
  name: string;
  model: ModelKind;
  gpu_ids: number[];
  seed: number;
  save_dir: string;
  datasets: { train: DatasetConfig; val?: ValConfig };
  networks: {
    raft?: string;
    raft_iters: number;
    flow_completion?: string;
    init_generator?: string;
    init_discriminator?: string;
    /** Use det-init v1 weights for a frozen network whose weight file is absent (logged). */
    allow_det_init: boolean;
    interp_mode: 'nearest' | 'bilinear';
    discriminator: boolean;
    dis_2d: boolean;
  };
  train: {
    lr: number;
    d_lr?: number;
    lr_scheme: LrScheme;
    lr_steps: number[];
    lr_gamma: number;
    cosine_periods: number[];
    eta_min: number;
    total_iter: number;
    warmup: number;
    warmup_lr: number;
    beta1: number;
    beta2: number;
    weight_decay: number;
    save_freq: number;
    val_freq: number;
    log_freq: number;
    image_freq: number;
    batch_size: number;
  };
  loss: {
    l1_weight: number;
    hole_weight?: number;
    valid_weight?: number;
    perceptual_weight: number;
    style_weight: number;
    adversarial_weight: number;
    gan_type: 'hinge' | 'nsgan' | 'lsgan';
    flow_weight: number;
    warp_weight: number;
    edge_weight: number;
    vgg?: string;
  };
  progressive?: { start_size: number[]; end_size: number[]; grow_steps: number };
  fp16: boolean;
  grad_accum: number;
  grad_clip: number;
}

const num = (def: number | undefined, extra: Partial<Extract<Field, { kind: 'number' }>> = {}): Field => ({ kind: 'number', default: def, ...extra });
const pos = (def?: number): Field => num(def, { min: 0, exclusiveMin: true });
const nonneg = (def?: number): Field => num(def, { min: 0 });
const int = (def: number | undefined, min = 0): Field => num(def, { integer: true, min });
const str = (def?: string, optional = false): Field => ({ kind: 'string', default: def, optional });
const bool = (def: boolean): Field => ({ kind: 'boolean', default: def });

export const CONFIG_SCHEMA: Field = {
  kind: 'object',
  fields: {
    name: str(''),
    model: { kind: 'string', enum: ['propainter', 'recurrent_flow_completion'] },
    gpu_ids: { kind: 'array', items: int(undefined), default: [0], minItems: 1 },
    seed: int(2023),
    save_dir: str(''),
    datasets: {
      kind: 'object',
      fields: {
        train: {
          kind: 'object',
          fields: {
            name: str('dataset'),
            root: str(),
            flow_root: str(undefined, true),
            index: str(undefined, true),
            width: int(432, 8),
            height: int(240, 8),
            num_local_frames: int(10, 2),
            num_ref_frames: int(6, 0),
            load_flow: bool(false),
            num_workers: int(0),
            prefetch: int(2, 1),
            fixed_masks: bool(false),
            videos: { kind: 'array', items: str(), optional: true },
            synth: {
              kind: 'object',
              optional: true,
              fields: {
                videos: int(1, 1),
                frames: int(20, 2),
                seed: int(0),
                objects: { kind: 'number', integer: true, min: 0, optional: true },
                max_speed: int(4, 1),
                source: str(undefined, true),
              },
            },
          },
        },
        val: {
          kind: 'object',
          optional: true,
          fields: {
            root: str(),
            videos: { kind: 'array', items: str(), optional: true },
            max_frames: int(20, 2),
            max_videos: int(0),
            width: int(432, 8),
            height: int(240, 8),
            dilation: int(4),
            load_flow: { kind: 'boolean', optional: true },
            flow_root: str(undefined, true),
            lpips: str(undefined, true),
            lpips_net: { kind: 'string', enum: ['alex', 'vgg'], default: 'alex' },
            lpips_trunk: str(undefined, true),
          },
        },
      },
    },
    networks: {
      kind: 'object',
      fields: {
        raft: str(undefined, true),
        raft_iters: int(20, 1),
        flow_completion: str(undefined, true),
        init_generator: str(undefined, true),
        init_discriminator: str(undefined, true),
        allow_det_init: bool(false),
        interp_mode: { kind: 'string', enum: ['nearest', 'bilinear'], default: 'nearest' },
        discriminator: bool(true),
        dis_2d: bool(false),
      },
    },
    train: {
      kind: 'object',
      fields: {
        lr: pos(1e-4),
        d_lr: { kind: 'number', min: 0, exclusiveMin: true, optional: true },
        lr_scheme: { kind: 'string', enum: ['MultiStepLR', 'CosineAnnealingRestartLR', 'constant'], default: 'MultiStepLR' },
        lr_steps: { kind: 'array', items: int(undefined, 1), default: [] },
        lr_gamma: pos(0.1),
        cosine_periods: { kind: 'array', items: int(undefined, 1), default: [] },
        eta_min: nonneg(0),
        total_iter: int(700000, 1),
        warmup: int(0),
        warmup_lr: nonneg(0),
        beta1: num(0, { min: 0, max: 0.999999 }),
        beta2: num(0.99, { min: 0, max: 0.999999 }),
        weight_decay: nonneg(0),
        save_freq: int(10000, 1),
        val_freq: int(0),
        log_freq: int(100, 1),
        image_freq: int(200, 0),
        batch_size: int(8, 1),
      },
    },
    loss: {
      kind: 'object',
      fields: {
        l1_weight: nonneg(1),
        hole_weight: { kind: 'number', min: 0, optional: true },
        valid_weight: { kind: 'number', min: 0, optional: true },
        perceptual_weight: nonneg(0),
        style_weight: nonneg(0),
        adversarial_weight: nonneg(0.01),
        gan_type: { kind: 'string', enum: ['hinge', 'nsgan', 'lsgan'], default: 'hinge' },
        flow_weight: nonneg(0.25),
        warp_weight: nonneg(0.01),
        edge_weight: nonneg(1),
        vgg: str(undefined, true),
      },
    },
    progressive: {
      kind: 'object',
      optional: true,
      fields: {
        start_size: { kind: 'array', items: int(undefined, 8), minItems: 2, maxItems: 2 },
        end_size: { kind: 'array', items: int(undefined, 8), minItems: 2, maxItems: 2 },
        grow_steps: int(undefined, 1),
      },
    },
    fp16: bool(false),
    grad_accum: int(1, 1),
    grad_clip: nonneg(0),
  },
};

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
  const model = raw.model?.net === 'recurrent_flow_completion' ? 'recurrent_flow_completion' : 'propainter';
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
  };
  if (raw.name) out.name = raw.name;
  if (raw.gpu_ids) out.gpu_ids = raw.gpu_ids;
  if (raw.save_dir) out.save_dir = raw.save_dir;
  if (model === 'propainter') {
    out.loss = {
      hole_weight: ls.hole_weight,
      valid_weight: ls.valid_weight,
      adversarial_weight: ls.adversarial_weight,
      gan_type: ls.GAN_LOSS,
      perceptual_weight: ls.perceptual_weight,
    };
    out.networks = { interp_mode: raw.model?.interp_mode, discriminator: raw.model?.no_dis === undefined ? undefined : !raw.model.no_dis };
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

/**
 * Validates a raw config object (either format) and fills defaults. `source` names the file in
 * errors; `configDir` resolves relative dataset/weight paths.
 */
export function resolveConfig(raw: Record<string, unknown>, opts: { source?: string; sets?: string[]; defaultName?: string } = {}): TrainConfig {
  let obj = isOfficialFormat(raw) ? fromOfficial(raw) : raw;
  if (opts.sets?.length) obj = applyOverrides(obj, opts.sets);
  const problems: string[] = [];
  const cfg = validate(CONFIG_SCHEMA, obj, '', problems) as TrainConfig;
  if (problems.length === 0) {
    if (cfg.gpu_ids.length > 1) problems.push(`gpu_ids: ${cfg.gpu_ids.length} devices requested; multi-device training is not supported yet (use one entry)`);
    if (cfg.datasets.train.width % 8 || cfg.datasets.train.height % 8) problems.push('datasets.train.width/height: must be multiples of 8');
    if (cfg.train.lr_scheme === 'CosineAnnealingRestartLR' && cfg.train.cosine_periods.length === 0) problems.push('train.cosine_periods: required for CosineAnnealingRestartLR');
    if (cfg.train.warmup > 0 && cfg.train.warmup_lr > cfg.train.lr) problems.push(`train.warmup_lr: ${cfg.train.warmup_lr} exceeds train.lr ${cfg.train.lr}`);
    if (cfg.progressive) {
      const { start_size: s, end_size: e } = cfg.progressive;
      if (s[0] > e[0] || s[1] > e[1]) problems.push('progressive.start_size: must not exceed progressive.end_size');
      if (e[0] !== cfg.datasets.train.height || e[1] !== cfg.datasets.train.width) problems.push('progressive.end_size: must equal [datasets.train.height, datasets.train.width]');
    }
  }
  if (problems.length) throw new ConfigError(problems, opts.source);
  if (!cfg.name) cfg.name = opts.defaultName ?? cfg.model;
  if (!cfg.save_dir) cfg.save_dir = path.join('experiments', cfg.name);
  return cfg;
}

/** Reads and resolves a config file; relative paths inside stay relative to the working directory. */
export function loadConfig(file: string, sets: string[] = []): TrainConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new ConfigError([`cannot read JSON: ${(e as Error).message}`], file);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ConfigError(['(root): expected a JSON object'], file);
  return resolveConfig(raw as Record<string, unknown>, { source: file, sets, defaultName: path.basename(file).replace(/\.json$/, '') });
}
