/**
 * The run folder (a config's save_dir) in one place — what `propainter train` / `Run` writes and
 * what resume, the pipeline, reports and analyze read:
 *
 *   config.json                       the resolved config
 *   log.jsonl                         every logged value, appended across resumes
 *   gen_NNNNNN.safetensors            trained network (generator / flow net), NNNNNN = iteration
 *   dis_NNNNNN.safetensors            discriminator (ProPainter)
 *   opt_NNNNNN.safetensors            optimizer states
 *   state_NNNNNN.json                 iteration, epoch, data position, config, callback states
 *   latest.json                       { iteration, state }: the newest complete checkpoint, written last
 *   samples/NNNNNN_<tag>.png          sample images, listed in samples/samples.jsonl
 *   tb/events.out.tfevents.*          TensorBoard events
 *
 * The official trainer's folders hold gen_/dis_/opt_NNNNNN.pth and latest.ckpt (spec §10.6).
 */
import * as fs from 'fs';
import * as path from 'path';
import { fsReason } from '../io/atomic';

export const CONFIG_FILE = 'config.json';
export const LOG_FILE = 'log.jsonl';
export const LATEST_FILE = 'latest.json';
export const SAMPLES_DIR = 'samples';
export const SAMPLES_INDEX = 'samples.jsonl';
export const TENSORBOARD_DIR = 'tb';
/** The official trainer's pointer to its newest checkpoint (a text file holding NNNNNN). */
export const OFFICIAL_LATEST_FILE = 'latest.ckpt';

export type CheckpointPart = 'gen' | 'dis' | 'opt' | 'state';

export const pad6 = (n: number) => String(n).padStart(6, '0');

/** File name of one part of the checkpoint at `iteration` ('.json' for state, else '.safetensors'). */
export function checkpointFileName(part: CheckpointPart, iteration: number | string): string {
  const tag = typeof iteration === 'string' ? iteration : pad6(iteration);
  return `${part}_${tag}${part === 'state' ? '.json' : '.safetensors'}`;
}

/** The NNNNNN tag of a checkpoint file name (ours or official), or null. */
export function checkpointTag(file: string): { part: CheckpointPart; tag: string; ext: string } | null {
  const m = /^(gen|dis|opt|state)_(\d{6,})\.(safetensors|json|pth)$/.exec(path.basename(file));
  return m ? { part: m[1] as CheckpointPart, tag: m[2], ext: m[3] } : null;
}

/** Iterations of our checkpoint files (gen_/dis_/opt_ .safetensors, state_ .json) in `dir`, ascending, each once. */
export function checkpointIterations(dir: string): number[] {
  const its = new Set<number>();
  for (const n of fs.readdirSync(dir)) {
    const t = checkpointTag(n);
    if (t && t.ext !== 'pth') its.add(Number(t.tag));
  }
  return [...its].sort((a, b) => a - b);
}

/** Our files of the checkpoint at `iteration` in `dir` that exist, the state file first. */
export function checkpointFiles(dir: string, iteration: number): string[] {
  return (['state', 'gen', 'dis', 'opt'] as const).map((p) => path.join(dir, checkpointFileName(p, iteration))).filter((f) => fs.existsSync(f));
}

/** JSON of a run file, or an error naming the file (`what` it should hold) and what is wrong. */
export function readRunJson(file: string, what: string): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new Error(`${file}: cannot read: ${fsReason(e)}`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new Error(`${file}: not a valid ${what} (${(e as Error).message}); the file is damaged — resume from an earlier checkpoint`);
  }
}

/** The iteration a latest.json points at; an unreadable file is an error naming it. */
export function latestIteration(file: string): number {
  const it = (readRunJson(file, 'checkpoint pointer') as { iteration?: unknown } | null)?.iteration;
  if (!Number.isInteger(it) || (it as number) < 0) throw new Error(`${file}: no valid "iteration"`);
  return it as number;
}

/** The newest complete checkpoint's iteration in a run folder, or null when it has none. */
export function latestCheckpoint(dir: string): number | null {
  const file = path.join(dir, LATEST_FILE);
  return fs.existsSync(file) ? latestIteration(file) : null;
}

/** Writes latest.json (atomically, by the caller's writer) — the content, so the format stays here. */
export function latestContent(iteration: number): { iteration: number; state: string } {
  return { iteration, state: checkpointFileName('state', iteration) };
}

/**
 * The newest checkpoint tag of an official run folder: the last line of latest.ckpt, else the
 * largest gen_NNNNNN.pth (as the official `load()`); null when there is none.
 */
export function officialLatestTag(dir: string): string | null {
  const pointer = path.join(dir, OFFICIAL_LATEST_FILE);
  if (fs.existsSync(pointer)) {
    const lines = fs.readFileSync(pointer, 'utf8').split('\n').map((l) => l.trim()).filter(Boolean);
    const last = lines[lines.length - 1];
    if (!last || !/^\d+$/.test(last)) throw new Error(`${pointer}: expected an iteration number, got ${JSON.stringify(last ?? '')}`);
    return pad6(Number(last));
  }
  const tags = fs.readdirSync(dir).map(checkpointTag).filter((t) => t?.part === 'gen' && t.ext === 'pth').map((t) => t!.tag);
  return tags.length ? tags.sort((a, b) => Number(a) - Number(b))[tags.length - 1] : null;
}

/**
 * A weight reference resolved to a file: a file as it is; a run folder of ours → its newest
 * gen_NNNNNN.safetensors; an official run folder → its newest gen_NNNNNN.pth. Null when nothing is there.
 */
export function trainedWeightsFile(ref: string): string | null {
  if (!fs.existsSync(ref)) return null;
  if (!fs.statSync(ref).isDirectory()) return ref;
  const it = latestCheckpoint(ref);
  if (it !== null) {
    const file = path.join(ref, checkpointFileName('gen', it));
    return fs.existsSync(file) ? file : null;
  }
  const tag = officialLatestTag(ref);
  const file = tag ? path.join(ref, `gen_${tag}.pth`) : null;
  return file && fs.existsSync(file) ? file : null;
}

/** The model a run folder trained (its config.json), or null when it is not a run folder of ours. */
export function runModel(dir: string): string | null {
  const file = path.join(dir, CONFIG_FILE);
  if (!fs.existsSync(file)) return null;
  try {
    const m = (JSON.parse(fs.readFileSync(file, 'utf8')) as { model?: unknown }).model;
    return typeof m === 'string' ? m : null;
  } catch {
    return null;
  }
}

/**
 * Run folders under `parent` that trained `model` and hold a complete checkpoint, newest
 * checkpoint first (by the time latest.json was written).
 */
export function findRuns(parent: string, model: string): string[] {
  if (!fs.existsSync(parent) || !fs.statSync(parent).isDirectory()) return [];
  const runs: Array<{ dir: string; time: number }> = [];
  for (const name of fs.readdirSync(parent)) {
    const dir = path.join(parent, name);
    const latest = path.join(dir, LATEST_FILE);
    if (runModel(dir) === model && fs.existsSync(latest) && trainedWeightsFile(dir)) runs.push({ dir, time: fs.statSync(latest).mtimeMs });
  }
  return runs.sort((a, b) => b.time - a.time || (a.dir < b.dir ? -1 : 1)).map((r) => r.dir);
}
