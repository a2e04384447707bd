/**
 * `propainter weights inspect FILE | convert FILE OUT | det-init --out DIR`: checkpoints read with
 * the safe loader (no code execution), converted between .pth and .safetensors with the official
 * key names kept, and det-init v1 weights written under the official file names for smoke runs
 * and the inference fixture cases.
 */
import * as fs from 'fs';
import * as path from 'path';
import type { CliCommand } from '../command';
import { UserError } from '../command';
import { initRuntime } from '../../runtime';
import { detectCheckpointFormat, loadCheckpoint, stripModulePrefix } from '../../io/checkpoint';
import { writeSafetensors } from '../../io/safetensors';
import { writePth } from '../../io/pth';
import { numel, type StateDict } from '../../io/host-tensor';
import { writeFileAtomic } from '../../io/atomic';
import { RAFT } from '../../models/raft';
import { RecurrentFlowCompleteNet } from '../../models/flow-completion';
import { InpaintGenerator } from '../../models/propainter';
import { Discriminator } from '../../models/discriminator';
import type { Module } from '../../nn/module';
import { DET_INIT_VERSION } from '../../init/det-init';
import { OFFICIAL_WEIGHT_FILES, detInitModels, disposeModels } from '../../inference/models';
import { formatCount } from '../../models/analyze';

const KNOWN_MODELS: Array<[string, () => Module]> = [
  ['RAFT (raft-things.pth)', () => new RAFT()],
  ['RecurrentFlowCompleteNet (recurrent_flow_completion.pth)', () => new RecurrentFlowCompleteNet()],
  ['InpaintGenerator (ProPainter.pth)', () => new InpaintGenerator()],
  ['Discriminator', () => new Discriminator()],
];

/** Marker file det-init writes beside the weights, so runs can say what they used. */
export const DET_INIT_MARKER = 'DET-INIT.txt';

export function isFloatDtype(d: string): boolean {
  return d.startsWith('float') || d === 'bfloat16';
}

export interface Inspection {
  file: string;
  format: string;
  tensors: number;
  parameters: number;
  byDtype: Record<string, number>;
  /** Parameter totals per top-level key prefix (module). */
  byModule: Array<[string, number]>;
  /** The official network whose state-dict keys and shapes these are, if any. */
  model: string | null;
  modulePrefix: boolean;
  entries: Array<{ key: string; dtype: string; shape: number[] }>;
}

function load(file: string, keepPrefix = true): StateDict {
  if (!fs.existsSync(file)) throw new UserError(`checkpoint not found: ${file}`);
  try {
    return loadCheckpoint(file, { stripModulePrefix: !keepPrefix });
  } catch (e) {
    throw new UserError(`${file}: ${(e as Error).message.replace(`${file}: `, '')}`);
  }
}

/** Which official model a state dict belongs to (same keys and shapes), or null. */
export function identifyModel(dict: StateDict): string | null {
  const stripped = stripModulePrefix(dict);
  for (const [name, make] of KNOWN_MODELS) {
    const m = make();
    try {
      const own = m.stateDict();
      if (own.size !== stripped.size) continue;
      let same = true;
      for (const [k, v] of own) {
        const o = stripped.get(k);
        if (!o || o.shape.length !== v.shape.length || o.shape.some((d, i) => d !== v.shape[i])) {
          same = false;
          break;
        }
      }
      if (same) return name;
    } finally {
      m.dispose();
    }
  }
  return null;
}

export function inspectCheckpoint(file: string): Inspection {
  const dict = load(file);
  const byDtype: Record<string, number> = {};
  const byModule = new Map<string, number>();
  let parameters = 0;
  const modulePrefix = [...dict.keys()].every((k) => k.startsWith('module.'));
  const entries: Inspection['entries'] = [];
  for (const [key, t] of dict) {
    const n = numel(t.shape);
    byDtype[t.dtype] = (byDtype[t.dtype] ?? 0) + n;
    entries.push({ key, dtype: t.dtype, shape: t.shape });
    if (!isFloatDtype(t.dtype)) continue;
    parameters += n;
    const parts = key.split('.');
    const top = modulePrefix ? parts.slice(0, 2).join('.') : parts[0];
    byModule.set(top, (byModule.get(top) ?? 0) + n);
  }
  return {
    file,
    format: detectCheckpointFormat(file),
    tensors: dict.size,
    parameters,
    byDtype,
    byModule: [...byModule.entries()],
    model: identifyModel(dict),
    modulePrefix,
    entries,
  };
}

export function formatInspection(r: Inspection, all: boolean): string {
  const lines = [
    `${r.file}: ${r.format}, ${r.tensors} tensors, ${formatCount(r.parameters)} floating-point values`,
    `model: ${r.model ?? 'not one of the official networks (keys or shapes differ)'}${r.modulePrefix ? "; keys carry the DataParallel 'module.' prefix" : ''}`,
    `dtypes: ${Object.entries(r.byDtype).map(([d, n]) => `${d} ${n.toLocaleString('en-US')}`).join(', ')}`,
    'parameters per module:',
    ...r.byModule.map(([m, n]) => `  ${m.padEnd(36)} ${n.toLocaleString('en-US').padStart(12)}`),
  ];
  const shown = all ? r.entries : r.entries.slice(0, 20);
  lines.push(`tensors${all || r.entries.length <= 20 ? '' : ` (first 20 of ${r.entries.length}; --all for every one)`}:`);
  for (const e of shown) lines.push(`  ${e.key.padEnd(60)} ${e.dtype.padEnd(8)} [${e.shape.join(', ')}]`);
  return lines.join('\n');
}

/** .pth ↔ .safetensors by the output's extension; keys kept exactly (a 'module.' prefix too). */
export function convertCheckpoint(file: string, out: string): { tensors: number; format: string } {
  const ext = path.extname(out).toLowerCase();
  if (ext !== '.pth' && ext !== '.pt' && ext !== '.safetensors') throw new UserError(`${out}: output must end in .pth, .pt or .safetensors`);
  if (path.resolve(out) === path.resolve(file)) throw new UserError(`${out}: output is the input file`);
  const dict = load(file);
  if (ext === '.safetensors') writeSafetensors(out, dict, { source: path.basename(file) });
  else writePth(out, dict);
  return { tensors: dict.size, format: ext === '.safetensors' ? 'safetensors' : 'pth (zip, torch.save format)' };
}

/**
 * The three official files with det-init v1 weights: raft-things.pth with the 'module.' prefix
 * (as the release file), recurrent_flow_completion.pth and ProPainter.pth.
 */
export function writeDetInitWeights(dir: string): string[] {
  fs.mkdirSync(dir, { recursive: true });
  const models = detInitModels();
  try {
    const raft = new Map([...models.raft.stateDict()].map(([k, v]) => [`module.${k}`, v]));
    const files: Array<[string, StateDict]> = [
      [OFFICIAL_WEIGHT_FILES.raft, raft],
      [OFFICIAL_WEIGHT_FILES.flowComplete, models.flowComplete.stateDict()],
      [OFFICIAL_WEIGHT_FILES.generator, models.generator.stateDict()],
    ];
    for (const [name, dict] of files) writePth(path.join(dir, name), dict);
    writeFileAtomic(
      path.join(dir, DET_INIT_MARKER),
      `${DET_INIT_VERSION}: deterministic, UNTRAINED weights made by \`propainter weights det-init\`.\n` +
        'For smoke runs and parity fixtures only; results made with them are not inpainting results.\n',
    );
    return files.map(([n]) => path.join(dir, n));
  } finally {
    disposeModels(models);
  }
}

/** "DIR (det-init v1: untrained)" when the folder was made by det-init. */
export function describeWeights(dir: string): string {
  return fs.existsSync(path.join(dir, DET_INIT_MARKER)) ? `${path.resolve(dir)} (${DET_INIT_VERSION}: untrained, smoke-run weights)` : path.resolve(dir);
}

const command: CliCommand = {
  name: 'weights',
  description: 'inspect, convert (.pth ↔ .safetensors) or make det-init checkpoints',
  configure: (cmd) => {
    cmd
      .command('inspect <file>')
      .description('keys, shapes, dtypes and parameter totals of a checkpoint (safe loader)')
      .option('--all', 'list every tensor')
      .option('--json', 'machine-readable output')
      .action(async (file: string, o: { all?: boolean; json?: boolean }) => {
        await initRuntime({ backend: 'cpu' }); // only to build the reference models' key lists
        const r = inspectCheckpoint(file);
        console.log(o.json ? JSON.stringify(r, null, 2) : formatInspection(r, !!o.all));
      });
    cmd
      .command('convert <file> <out>')
      .description('.pth → .safetensors or .safetensors → .pth, official key names kept')
      .action((file: string, out: string) => {
        const r = convertCheckpoint(file, out);
        console.log(`${out}: ${r.tensors} tensors written as ${r.format}`);
      });
    cmd
      .command('det-init')
      .description('write raft-things.pth, recurrent_flow_completion.pth and ProPainter.pth with det-init v1 (untrained) weights')
      .requiredOption('--out <dir>', 'output folder')
      .action(async (o: { out: string }) => {
        await initRuntime({ backend: 'cpu' });
        for (const f of writeDetInitWeights(o.out)) console.log(`wrote ${f}`);
        console.log(`${DET_INIT_VERSION} weights are deterministic and UNTRAINED: for smoke runs and parity fixtures, not for real inpainting.`);
      });
  },
};
export default command;
