/**
 * The guide's model diagnosis (`analyze --config CONFIG --checkpoint CKPT`): the networks a
 * config trains, built by name and loaded with a checkpoint's weights (which checks that they fit),
 * then per-module weight statistics; for a training checkpoint (ours or an official set) also its
 * iteration and the optimizer state per module. Statistics are computed on the host.
 */
import * as fs from 'fs';
import type { StateDict } from '../io/host-tensor';
import { loadCheckpoint as readWeightFile } from '../io/checkpoint';
import { toFloat32 } from '../io/host-tensor';
import type { Module } from '../nn/module';
import { buildNetwork } from '../models/networks';
import { MODELS, TrainConfig } from './config';
import { CheckpointContents, findCheckpoint, loadCheckpoint } from './checkpoint';
import { adamStateFromTorch } from './optim';
import { loadInto } from './system';

export interface WeightStats {
  module: string;
  params: number;
  /** L2 norm, mean |w|, max |w| and standard deviation over the module's parameters. */
  l2: number;
  meanAbs: number;
  maxAbs: number;
  std: number;
}

export interface MomentStats {
  module: string;
  /** L2 norm of Adam's first moment (exp_avg). */
  expAvgL2: number;
  /** sqrt(mean(exp_avg_sq)): the running RMS of the gradients. */
  gradRms: number;
}

export interface NetworkDiagnosis {
  /** 'G' = the trained network, 'D' = the discriminator. */
  role: 'G' | 'D';
  /** Registry name (networks.generator / networks.discriminator). */
  name: string;
  params: number;
  modules: WeightStats[];
  optimizer?: { step: number; modules: MomentStats[] };
}

export interface CheckpointDiagnosis {
  checkpoint: string;
  /** A training checkpoint of ours, an official set, or a weights file. */
  kind: 'ours' | 'official' | 'weights';
  iteration?: number;
  epoch?: number;
  networks: NetworkDiagnosis[];
  notes: string[];
}

/** Module path of a parameter at `depth` components ('feat_prop_module.backbone' at 2). */
function moduleOf(name: string, depth: number): string {
  const parts = name.split('.');
  return parts.slice(0, Math.min(depth, parts.length - 1)).join('.') || name;
}

/** Groups `values(name)` of `names` by module (first-seen order) and reduces each group. */
function grouped<T>(names: string[], depth: number, reduce: (module: string, members: string[]) => T): T[] {
  const groups = new Map<string, string[]>();
  for (const n of names) {
    const m = moduleOf(n, depth);
    (groups.get(m) ?? groups.set(m, []).get(m)!).push(n);
  }
  return [...groups].map(([m, members]) => reduce(m, members));
}

function weightStats(module: string, arrays: Float32Array[]): WeightStats {
  let n = 0;
  let sum = 0;
  let sq = 0;
  let abs = 0;
  let max = 0;
  for (const a of arrays) {
    for (let i = 0; i < a.length; i++) {
      const v = a[i];
      sum += v;
      sq += v * v;
      abs += Math.abs(v);
      if (Math.abs(v) > max) max = Math.abs(v);
    }
    n += a.length;
  }
  const mean = sum / n;
  return { module, params: n, l2: Math.sqrt(sq), meanAbs: abs / n, maxAbs: max, std: Math.sqrt(Math.max(0, sq / n - mean * mean)) };
}

/** Statistics of `net` (loaded from `dict`) and, when given, of its Adam state (our layout). */
function diagnoseNetwork(role: 'G' | 'D', name: string, net: Module, dict: StateDict, opt: StateDict | null, depth: number): NetworkDiagnosis {
  const params = net.namedParameters().map(([n]) => n);
  const data = (d: StateDict, key: string) => toFloat32(d.get(key)!);
  const out: NetworkDiagnosis = {
    role,
    name,
    params: net.numParameters(),
    modules: grouped(params, depth, (m, members) => weightStats(m, members.map((k) => data(dict, k)))),
  };
  if (opt) {
    const step = Number((opt.get('step')!.data as BigInt64Array)[0]);
    out.optimizer = {
      step,
      modules: grouped(params, depth, (m, members) => {
        const first = weightStats(m, members.map((k) => data(opt, `exp_avg.${k}`)));
        const second = members.map((k) => data(opt, `exp_avg_sq.${k}`));
        const total = second.reduce((a, x) => a + x.reduce((s, v) => s + v, 0), 0);
        return { module: m, expAvgL2: first.l2, gradRms: Math.sqrt(total / first.params) };
      }),
    };
  }
  return out;
}

/**
 * Diagnoses `target` against the networks `cfg` trains: a run folder or checkpoint file of ours,
 * an official set (gen_/dis_/opt_NNNNNN.pth) or a plain weights file of the trained network (e.g.
 * weights/ProPainter.pth). `depth` = module path components per row.
 */
export function diagnoseCheckpoint(cfg: TrainConfig, target: string, depth = 1): CheckpointDiagnosis {
  const notes: string[] = [];
  let ckpt: CheckpointContents | null = null;
  let file = target;
  try {
    const c = findCheckpoint(target);
    ckpt = loadCheckpoint(c);
    file = c.file;
  } catch (e) {
    // Not a checkpoint set: a weights file of the trained network (a folder must be a checkpoint).
    if (!fs.existsSync(target) || fs.statSync(target).isDirectory()) throw e;
  }
  const gen = ckpt ? ckpt.gen : readWeightFile(target);
  const kind = ckpt?.format ?? 'weights';
  const out: CheckpointDiagnosis = { checkpoint: file, kind, networks: [], notes };
  if (ckpt) {
    out.iteration = ckpt.state.iteration;
    out.epoch = ckpt.state.epoch;
  }
  const optimizerState = (role: 'G' | 'D', net: Module): StateDict | null => {
    if (!ckpt) return null;
    if (ckpt.format === 'ours') return ckpt.optimizers[role] ?? null;
    const raw = ckpt.torchOptimizers?.[role];
    return raw === undefined ? null : adamStateFromTorch(raw, net, `${file} (optim${role})`).state;
  };
  const log = (l: string) => notes.push(l);
  const parts: Array<['G' | 'D', string, Module, StateDict]> = [];
  try {
    const g = buildNetwork(MODELS[cfg.model].role, cfg.networks.generator);
    parts.push(['G', cfg.networks.generator, g, gen]);
    loadInto(g, gen, `${file} (gen)`, cfg.strict_load, log);
    const d = cfg.networks.discriminator;
    if (d !== 'none' && ckpt?.dis) {
      const dis = buildNetwork('discriminator', d, { useSigmoid: cfg.loss.gan_type !== 'hinge' });
      parts.push(['D', d, dis, ckpt.dis]);
      loadInto(dis, ckpt.dis, `${file} (dis)`, cfg.strict_load, log);
    } else if (d !== 'none') notes.push(`no discriminator weights in ${file}`);
    for (const [role, name, net, dict] of parts) out.networks.push(diagnoseNetwork(role, name, net, dict, optimizerState(role, net), depth));
  } finally {
    for (const [, , net] of parts) net.dispose();
  }
  return out;
}

const num = (v: number) => (v === 0 ? '0' : Math.abs(v) >= 1e-3 && Math.abs(v) < 1e4 ? v.toFixed(4) : v.toExponential(3));

/** Human-readable tables: weight statistics per module, then the optimizer state. */
export function formatDiagnosis(d: CheckpointDiagnosis): string {
  const lines: string[] = [];
  const what = d.kind === 'weights' ? 'weights file' : d.kind === 'official' ? 'official training checkpoint' : 'training checkpoint';
  lines.push(`${what} ${d.checkpoint}${d.iteration !== undefined ? `: iteration ${d.iteration}, epoch ${d.epoch}` : ''}`);
  for (const n of d.networks) {
    const w = Math.max(12, ...n.modules.map((m) => m.module.length));
    lines.push('', `${n.role === 'G' ? 'trained network' : 'discriminator'} ${n.name}: ${n.params.toLocaleString('en-US')} parameters`);
    lines.push(`  ${'module'.padEnd(w)} ${'params'.padStart(11)} ${'L2'.padStart(11)} ${'mean |w|'.padStart(11)} ${'max |w|'.padStart(11)} ${'std'.padStart(11)}`);
    for (const m of n.modules) {
      lines.push(`  ${m.module.padEnd(w)} ${m.params.toLocaleString('en-US').padStart(11)} ${[m.l2, m.meanAbs, m.maxAbs, m.std].map((v) => num(v).padStart(11)).join(' ')}`);
    }
    if (n.optimizer) {
      lines.push(`  Adam state after ${n.optimizer.step} steps:`);
      lines.push(`  ${'module'.padEnd(w)} ${'‖exp_avg‖'.padStart(11)} ${'grad RMS'.padStart(11)}`);
      for (const m of n.optimizer.modules) lines.push(`  ${m.module.padEnd(w)} ${num(m.expAvgL2).padStart(11)} ${num(m.gradRms).padStart(11)}`);
    }
  }
  if (d.notes.length) lines.push('', 'notes:', ...d.notes.map((n) => `  - ${n}`));
  return lines.join('\n');
}
