/**
 * A training run read back from its folder (what `propainter train` / `Run` wrote): config.json,
 * log.jsonl (every logged value; appended across resumes) and the sample-image index. A resume
 * from an earlier checkpoint replays iterations: the records after the resume point are the ones
 * that count, so a `start` event at iteration k drops earlier records beyond k.
 */
import * as fs from 'fs';
import * as path from 'path';
import { readSampleIndex, SampleEntry } from '../train/callbacks/samples';
import { CONFIG_FILE, LOG_FILE, SAMPLES_DIR, SAMPLES_INDEX } from '../train/run-folder';

export interface StepRow {
  iteration: number;
  lr: number;
  itPerSec: number;
  size: [number, number];
  scalars: Record<string, number>;
}

export interface ValidationRow {
  iteration: number;
  metrics: Record<string, number>;
}

export interface RunSegment {
  startIteration: number;
  start: string;
  end?: string;
  endIteration?: number;
  reason?: string;
  backend?: string;
}

export interface RunLog {
  dir: string;
  name: string;
  model: string;
  config: Record<string, any>;
  steps: StepRow[];
  validations: ValidationRow[];
  checkpoints: Array<{ iteration: number; state: string }>;
  segments: RunSegment[];
  samples: SampleEntry[];
}

const STEP_KEYS = new Set(['iteration', 'epoch', 'lr', 'lr_d', 'it_per_s', 'size', 'event']);

export function readRunLog(dir: string): RunLog {
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new Error(`${dir}: no such run folder`);
  const logFile = path.join(dir, LOG_FILE);
  if (!fs.existsSync(logFile)) throw new Error(`${logFile}: missing — not a training run folder (propainter train writes it)`);
  const cfgFile = path.join(dir, CONFIG_FILE);
  let config: Record<string, any> = {};
  if (fs.existsSync(cfgFile)) {
    try {
      config = JSON.parse(fs.readFileSync(cfgFile, 'utf8'));
    } catch (e) {
      throw new Error(`${cfgFile}: not valid JSON (${(e as Error).message})`);
    }
  }
  const steps = new Map<number, StepRow>();
  const validations = new Map<number, ValidationRow>();
  const checkpoints: RunLog['checkpoints'] = [];
  const segments: RunSegment[] = [];
  let name = String(config.name ?? path.basename(dir));
  let model = String(config.model ?? '');
  const lines = fs.readFileSync(logFile, 'utf8').split('\n');
  lines.forEach((line, i) => {
    if (!line.trim()) return;
    let r: Record<string, any>;
    try {
      r = JSON.parse(line);
    } catch (e) {
      if (i >= lines.length - 2) return; // the last line, cut by a crash
      throw new Error(`${logFile}:${i + 1}: not valid JSON (${(e as Error).message})`);
    }
    const it = Number(r.iteration);
    if (r.event === 'start') {
      for (const m of [steps, validations] as Array<Map<number, unknown>>) for (const k of [...m.keys()]) if (k > it) m.delete(k);
      segments.push({ startIteration: it, start: String(r.time), backend: r.backend });
      if (r.name) name = String(r.name);
      if (r.model) model = String(r.model);
    } else if (r.event === 'end') {
      const s = segments[segments.length - 1];
      if (s) Object.assign(s, { end: String(r.time), endIteration: it, reason: r.reason });
    } else if (r.event === 'validation') {
      const metrics: Record<string, number> = {};
      for (const [k, v] of Object.entries(r)) if (k.startsWith('val/') && typeof v === 'number') metrics[k.slice(4)] = v;
      validations.set(it, { iteration: it, metrics });
    } else if (r.event === 'checkpoint') {
      checkpoints.push({ iteration: it, state: String(r.state) });
    } else if (r.event === undefined) {
      const scalars: Record<string, number> = {};
      for (const [k, v] of Object.entries(r)) if (!STEP_KEYS.has(k) && typeof v === 'number') scalars[k] = v;
      steps.set(it, { iteration: it, lr: Number(r.lr), itPerSec: Number(r.it_per_s), size: r.size as [number, number], scalars });
    }
  });
  const byIt = <T extends { iteration: number }>(m: Map<number, T>) => [...m.values()].sort((a, b) => a.iteration - b.iteration);
  let samples: SampleEntry[];
  try {
    samples = readSampleIndex(dir);
  } catch (e) {
    throw new Error(`${path.join(dir, SAMPLES_DIR, SAMPLES_INDEX)}: ${(e as Error).message}`);
  }
  return { dir, name, model, config, steps: byIt(steps), validations: byIt(validations), checkpoints, segments, samples };
}

/** Seconds spent in training steps (validation and checkpoint writing excluded). */
export function trainingSeconds(run: RunLog): number {
  return run.steps.reduce((a, s) => a + (s.itPerSec > 0 ? 1 / s.itPerSec : 0), 0);
}

/** Names of the logged scalars, in first-seen order. */
export function scalarNames(run: RunLog): string[] {
  const names = new Set<string>();
  for (const s of run.steps) for (const k of Object.keys(s.scalars)) names.add(k);
  return [...names];
}

/** One scalar over the run: iterations and values. */
export function scalarSeries(run: RunLog, name: string): { x: number[]; y: number[] } {
  const x: number[] = [];
  const y: number[] = [];
  for (const s of run.steps) {
    const v = s.scalars[name];
    if (v !== undefined) {
      x.push(s.iteration);
      y.push(v);
    }
  }
  return { x, y };
}

/** Mean of a scalar over the first or last `fraction` of the run's steps (at least one step). */
export function windowMean(run: RunLog, name: string, where: 'first' | 'last', fraction = 0.2): number {
  const { y } = scalarSeries(run, name);
  if (y.length === 0) return NaN;
  const n = Math.max(1, Math.round(y.length * fraction));
  const w = where === 'first' ? y.slice(0, n) : y.slice(-n);
  return w.reduce((a, b) => a + b, 0) / w.length;
}
