/**
 * Worker processes for `propainter evaluate --nproc N`. Each runs lib/eval/worker.ts with its own
 * backend (the parent's), opens the plan's networks once and evaluates the videos it is handed:
 * it writes a video's saved frames and strip itself and sends back its record, which the parent
 * stores (lib/eval/evaluate `evaluateVideos`), so a folder evaluated by N processes holds exactly
 * what one process writes. A worker that dies — a signal, the wasm heap, any exit — fails the
 * video it held with a one-line error naming the video; the videos finished before stay recorded.
 */
import { fork, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import type { VideoEvaluation } from './evaluate';
import type { VideoRecord } from './results';
import type { EvaluationPlan } from './run';

/** Parent → worker. */
export type ToWorker = { type: 'init'; plan: EvaluationPlan } | { type: 'video'; index: number } | { type: 'exit' };
/** Worker → parent. */
export type FromWorker =
  | { type: 'ready' }
  | { type: 'log'; line: string }
  | { type: 'done'; index: number; record: VideoRecord }
  | { type: 'failed'; message: string };

export interface EvaluationPool {
  /** Evaluates video i on an idle worker. */
  evaluate: VideoEvaluation;
  /** Ends the workers (after their current video, if any) and waits for them. */
  close(): Promise<void>;
}

/** The worker program (beside this file; notebooks run from the repository root). */
function workerProgram(): string {
  const beside = path.join(__dirname, 'worker.ts');
  return fs.existsSync(beside) ? beside : path.resolve('lib', 'eval', 'worker.ts');
}

/** A message to a worker; a failed send needs no handling here: the worker's exit reports it. */
function send(child: ChildProcess, m: ToWorker): void {
  child.send(m, () => undefined);
}

interface Worker {
  id: number;
  child: ChildProcess;
  /** The video being evaluated and its promise's settlers. */
  job: { index: number; resolve(r: VideoRecord): void; reject(e: Error): void } | null;
  /** Last lines of its stderr (named when it dies). */
  stderr: string;
  exited: Promise<void>;
  dead: string | null;
}

/**
 * Starts `n` workers for `plan` and waits until each has its backend; `videoPath(i)` names video i
 * in errors. Logs each video a worker takes and the workers' own log lines.
 */
export async function startEvaluationWorkers(plan: EvaluationPlan, n: number, videoPath: (i: number) => string, log: (line: string) => void): Promise<EvaluationPool> {
  const program = workerProgram();
  const tsx = require.resolve('tsx/cjs');
  const workers: Worker[] = [];
  const startups: Promise<void>[] = [];
  for (let id = 1; id <= n; id++) {
    // 'advanced' serialisation keeps NaN and ±Infinity (a PSNR of identical frames) in records.
    const child = fork(program, [], { execArgv: ['--require', tsx], stdio: ['ignore', 'ignore', 'pipe', 'ipc'], serialization: 'advanced' });
    let onExit!: () => void;
    const w: Worker = { id, child, job: null, stderr: '', exited: new Promise((r) => (onExit = r)), dead: null };
    workers.push(w);
    child.stderr!.on('data', (d: Buffer) => (w.stderr = (w.stderr + d.toString('utf8')).slice(-4000)));
    startups.push(
      new Promise<void>((resolve, reject) => {
        const died = (why: string) => {
          w.dead = why;
          const last = w.stderr.trim().split('\n').pop()?.trim();
          const detail = last ? `: ${last.slice(0, 300)}` : '';
          const job = w.job;
          w.job = null;
          if (job) {
            job.reject(new Error(
              `${videoPath(job.index)}: the evaluation worker evaluating this video (process ${child.pid}) died (${why})${detail}; ` +
                `the videos finished before are recorded in ${plan.out} — run the same command again to resume`,
            ));
          }
          reject(new Error(`evaluation worker ${id} (process ${child.pid}) ended during its start (${why})${detail}`));
        };
        child.on('exit', (code, signal) => {
          if (!w.dead) died(signal ? `signal ${signal}` : `exit code ${code}`);
          onExit();
        });
        // Only a failed start reaches 'error' (sends report to their callback; a death is the exit's).
        child.on('error', (e) => {
          if (!w.dead) died(e.message);
        });
        child.on('message', (m: FromWorker) => {
          if (m.type === 'ready') resolve();
          else if (m.type === 'log') log(m.line);
          else if (m.type === 'done' || m.type === 'failed') {
            const job = w.job;
            w.job = null;
            if (!job) {
              // A worker that failed to start says why before it exits.
              if (m.type === 'failed') reject(new Error(m.message));
              return;
            }
            if (m.type === 'done') job.resolve(m.record);
            else job.reject(new Error(m.message));
          }
        });
      }),
    );
    send(child, { type: 'init', plan });
  }
  const close = async () => {
    for (const w of workers) {
      if (w.dead) continue;
      w.dead = 'closed';
      if (w.child.connected) send(w.child, { type: 'exit' });
      else w.child.kill();
    }
    await Promise.all(workers.map((w) => w.exited));
  };
  try {
    await Promise.all(startups);
  } catch (e) {
    for (const w of workers) if (!w.dead) w.child.kill();
    await Promise.all(workers.map((w) => w.exited));
    throw e;
  }
  return {
    evaluate: (index) =>
      new Promise<VideoRecord>((resolve, reject) => {
        const w = workers.find((x) => !x.dead && !x.job);
        if (!w) return reject(new Error(`${videoPath(index)}: no evaluation worker is free (internal scheduling error)`));
        w.job = { index, resolve, reject };
        log(`worker ${w.id} (process ${w.child.pid}): ${path.basename(videoPath(index))}`);
        send(w.child, { type: 'video', index });
      }),
    close,
  };
}
