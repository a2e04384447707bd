/**
 * An evaluation folder read back (what `propainter evaluate` wrote): results.json (settings,
 * weights, summary, per-video rows) and the strip image of each video.
 */
import * as fs from 'fs';
import * as path from 'path';
import { RESULTS_FILE, ResultsFile, STRIPS_DIR, readResultsFile } from '../eval/results';
import { childPath } from '../data/layout';

export interface EvalRun {
  dir: string;
  name: string;
  results: ResultsFile;
  /** strips/<video>.jpg by video, for the videos that have one. */
  strips: Record<string, string>;
}

/** True when `dir` holds an evaluation's results.json. */
export function isEvaluationDir(dir: string): boolean {
  return fs.existsSync(path.join(dir, RESULTS_FILE));
}

export function readEvalRun(dir: string): EvalRun {
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new Error(`${dir}: no such evaluation folder`);
  const results = readResultsFile(dir);
  const strips: Record<string, string> = {};
  for (const row of results.per_video) {
    // Names come from the file: they must stay inside the folder.
    const f = childPath(path.join(dir, STRIPS_DIR), `${row.video}.jpg`, 'strip of video');
    if (fs.existsSync(f)) strips[String(row.video)] = f;
  }
  return { dir, name: path.basename(path.resolve(dir)), results, strips };
}
