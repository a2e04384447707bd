/**
 * Training checkpoints: everything needed to continue exactly — generator (or flow net),
 * discriminator, both optimizers, iteration, data-sampler position, config — as safetensors +
 * JSON in the run folder (names in run-folder.ts). Every file is written atomically and
 * latest.json only after all of them, so an interrupted save leaves the previous checkpoint in
 * effect.
 *
 * `--resume` also takes an official trainer's checkpoint set (gen_/dis_/opt_NNNNNN.pth, spec
 * §10.6): its weights under the official keys and its torch.optim.Adam states, which the systems
 * convert (`adamStateFromTorch`); it carries no config and no data position.
 */
import * as fs from 'fs';
import * as path from 'path';
import type { StateDict } from '../io/host-tensor';
import { readSafetensors, writeSafetensors } from '../io/safetensors';
import { writeJsonAtomic } from '../io/atomic';
import { loadCheckpoint as loadWeightFile } from '../io/checkpoint';
import { readPthObject } from '../io/pth';
import { buildNetwork, networkNames } from '../models/networks';
import { MODELS, ModelKind } from './config';
import {
  LATEST_FILE, OFFICIAL_LATEST_FILE, checkpointFileName, checkpointFiles, checkpointIterations, checkpointTag, latestCheckpoint, latestContent, latestIteration,
  officialLatestTag, pad6, readRunJson,
} from './run-folder';

export interface TrainingState {
  iteration: number;
  epoch: number;
  /** Opaque JSON state of data samplers / RNGs. */
  rng: unknown;
  config: unknown;
  /** Running-average bookkeeping etc. */
  extra?: Record<string, unknown>;
}

export interface CheckpointContents {
  gen: StateDict;
  dis?: StateDict;
  /** Optimizer states in our layout, keyed by optimizer name ('G', 'D'). */
  optimizers: Record<string, StateDict>;
  /**
   * An official checkpoint's torch.optim.Adam state dicts ('G' = optimG, 'D' = optimD), to be
   * converted against the networks (the `optimizers` are then empty).
   */
  torchOptimizers?: Record<string, unknown>;
  state: TrainingState;
  /** 'ours' or 'official' (no config, no data position, no callback states). */
  format: 'ours' | 'official';
}

/**
 * Writes a checkpoint and points latest.json at it. latest.json never moves backwards: a folder
 * whose latest.json is past `iteration` is another run's, and saving into it is an error.
 */
export function saveCheckpoint(dir: string, c: Omit<CheckpointContents, 'format' | 'torchOptimizers'>): string {
  fs.mkdirSync(dir, { recursive: true });
  const it = c.state.iteration;
  const prev = latestCheckpoint(dir);
  if (prev !== null && prev > it) {
    throw new Error(`${path.join(dir, LATEST_FILE)}: names iteration ${prev}, past this run's ${it} — another run writes into ${dir}; not saving over it`);
  }
  const meta = { format: 'propainter-ts checkpoint v1', iteration: String(it) };
  writeSafetensors(path.join(dir, checkpointFileName('gen', it)), c.gen, meta);
  if (c.dis) writeSafetensors(path.join(dir, checkpointFileName('dis', it)), c.dis, meta);
  const opt: StateDict = new Map();
  for (const [name, sd] of Object.entries(c.optimizers)) for (const [k, v] of sd) opt.set(`${name}.${k}`, v);
  writeSafetensors(path.join(dir, checkpointFileName('opt', it)), opt, meta);
  const statePath = path.join(dir, checkpointFileName('state', it));
  writeJsonAtomic(statePath, c.state);
  writeJsonAtomic(path.join(dir, LATEST_FILE), latestContent(it));
  return statePath;
}

export interface ResolvedCheckpoint {
  dir: string;
  tag: string;
  format: 'ours' | 'official';
  /** Our state_NNNNNN.json, or the official opt_NNNNNN.pth. */
  file: string;
}

/**
 * Resolves `--resume`: a run folder of ours (its latest.json), latest.json, any of our
 * gen_/dis_/opt_/state_NNNNNN files, an official run folder (latest.ckpt or the largest
 * gen_NNNNNN.pth), latest.ckpt or an official gen_/dis_/opt_NNNNNN.pth. Checks that the set is complete.
 */
export function findCheckpoint(target: string): ResolvedCheckpoint {
  if (!fs.existsSync(target)) throw new Error(`checkpoint not found: ${target}`);
  let dir = target;
  let tag: string | null = null;
  let format: 'ours' | 'official' = 'ours';
  if (fs.statSync(target).isDirectory()) {
    const latest = path.join(target, LATEST_FILE);
    if (fs.existsSync(latest)) tag = pad6(latestIteration(latest));
    else {
      tag = officialLatestTag(target);
      format = 'official';
      if (!tag) throw new Error(`${target}: no checkpoint in this folder (no latest.json, latest.ckpt or gen_NNNNNN.pth)`);
    }
  } else {
    dir = path.dirname(target);
    const base = path.basename(target);
    const t = checkpointTag(base);
    if (base === LATEST_FILE) tag = pad6(latestIteration(target));
    else if (base === OFFICIAL_LATEST_FILE) {
      tag = officialLatestTag(dir);
      format = 'official';
    } else if (t && t.part !== 'state' && t.ext === 'pth') {
      tag = t.tag;
      format = 'official';
    } else if (t && t.ext !== 'pth') tag = t.tag;
    else {
      throw new Error(
        `${target}: not a checkpoint (expected a run folder or a gen_/dis_/opt_/state_NNNNNN file); ` +
          'to start from pretrained weights set networks.init_generator instead',
      );
    }
  }
  const need = format === 'ours'
    ? [checkpointFileName('state', tag!), checkpointFileName('gen', tag!), checkpointFileName('opt', tag!)]
    : [`gen_${tag}.pth`, `opt_${tag}.pth`];
  for (const f of need) {
    if (!fs.existsSync(path.join(dir, f))) throw new Error(`incomplete checkpoint ${tag} in ${dir}: ${f} is missing`);
  }
  return { dir, tag: tag!, format, file: path.join(dir, need[format === 'official' ? 1 : 0]) };
}

/**
 * The model a checkpoint trained, or null when unknown: ours records it; for an official set
 * (no config) it is the model with a network whose state-dict keys are exactly the generator
 * file's. That builds networks to compare, so call it to explain a failed load, not up front.
 */
export function checkpointModel(c: CheckpointContents): ModelKind | null {
  if (c.format === 'ours') {
    const m = c.state.extra?.model ?? (c.state.config as { model?: unknown } | undefined)?.model;
    return typeof m === 'string' && m in MODELS ? (m as ModelKind) : null;
  }
  const keys = [...c.gen.keys()].sort().join('\n');
  for (const [kind, m] of Object.entries(MODELS) as Array<[ModelKind, (typeof MODELS)[ModelKind]]>) {
    for (const name of networkNames(m.role)) {
      const net = buildNetwork(m.role, name);
      const own = net.namedEntries().filter(([, e]) => e.persistent).map(([k]) => k);
      net.dispose();
      if (own.sort().join('\n') === keys) return kind;
    }
  }
  return null;
}

/** Reads a checkpoint: `--resume`'s target, or what findCheckpoint found. */
export function loadCheckpoint(target: string | ResolvedCheckpoint): CheckpointContents {
  const c = typeof target === 'string' ? findCheckpoint(target) : target;
  return c.format === 'ours' ? loadOurs(c) : loadOfficial(c);
}

/**
 * Deletes our checkpoints in `dir` beyond the newest `keep` (every file of each), never the one
 * latest.json names nor any official .pth file. Returns the iterations deleted.
 */
export function rotateCheckpoints(dir: string, keep: number): number[] {
  const latest = latestCheckpoint(dir);
  const old = checkpointIterations(dir).filter((it) => it !== latest).reverse().slice(Math.max(0, keep - (latest === null ? 0 : 1)));
  for (const it of old) for (const f of checkpointFiles(dir, it)) fs.rmSync(f, { force: true });
  return old;
}

/**
 * Deletes our checkpoints in `dir` after `iteration` (all of them for -1) and points latest.json
 * at `iteration` (removes it for -1) first, so it never names a deleted checkpoint. For starting
 * over (--overwrite); returns the iterations deleted.
 */
export function dropCheckpointsAfter(dir: string, iteration: number): number[] {
  const file = path.join(dir, LATEST_FILE);
  if (iteration < 0) fs.rmSync(file, { force: true });
  else writeJsonAtomic(file, latestContent(iteration));
  const gone = checkpointIterations(dir).filter((it) => it > iteration);
  for (const it of gone) for (const f of checkpointFiles(dir, it)) fs.rmSync(f, { force: true });
  return gone;
}

function loadOurs(c: ResolvedCheckpoint): CheckpointContents {
  const state = readRunJson(c.file, 'checkpoint state') as TrainingState;
  if (typeof state !== 'object' || state === null || !Number.isInteger(state.iteration) || state.iteration < 0 || typeof state.config !== 'object') {
    throw new Error(`${c.file}: not a checkpoint state (no "iteration" and "config"); the file is damaged — resume from an earlier checkpoint`);
  }
  const gen = readSafetensors(path.join(c.dir, checkpointFileName('gen', c.tag))).tensors;
  const disPath = path.join(c.dir, checkpointFileName('dis', c.tag));
  const dis = fs.existsSync(disPath) ? readSafetensors(disPath).tensors : undefined;
  const optimizers: Record<string, StateDict> = {};
  for (const [k, v] of readSafetensors(path.join(c.dir, checkpointFileName('opt', c.tag))).tensors) {
    const dot = k.indexOf('.');
    const name = k.slice(0, dot);
    (optimizers[name] ??= new Map()).set(k.slice(dot + 1), v);
  }
  return { gen, dis, optimizers, state, format: 'ours' };
}

/** An official set: gen_/dis_NNNNNN.pth state dicts and opt_NNNNNN.pth {epoch, iteration, optimG, optimD, …}. */
function loadOfficial(c: ResolvedCheckpoint): CheckpointContents {
  const optFile = path.join(c.dir, `opt_${c.tag}.pth`);
  const opt = readPthObject(optFile).object;
  if (!(opt instanceof Map)) throw new Error(`${optFile}: expected a dict {epoch, iteration, optimG, …}`);
  const int = (key: string): number => {
    const v = opt.get(key);
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw new Error(`${optFile}: "${key}" must be a non-negative integer, got ${String(v)}`);
    return v;
  };
  const torchOptimizers: Record<string, unknown> = {};
  if (!opt.has('optimG')) throw new Error(`${optFile}: no "optimG"`);
  torchOptimizers.G = opt.get('optimG');
  if (opt.has('optimD')) torchOptimizers.D = opt.get('optimD');
  const disPath = path.join(c.dir, `dis_${c.tag}.pth`);
  return {
    gen: loadWeightFile(path.join(c.dir, `gen_${c.tag}.pth`)),
    dis: fs.existsSync(disPath) ? loadWeightFile(disPath) : undefined,
    optimizers: {},
    torchOptimizers,
    state: { iteration: int('iteration'), epoch: int('epoch'), rng: undefined, config: undefined },
    format: 'official',
  };
}
