/**
 * `npm run bench -- evaluate [--videos 4] [--frames 10] [--width 432 --height 240] [--raft-iter 20] [--nproc N] [--weights DIR]`
 *
 * `propainter evaluate` (lib/eval runEvaluation, official protocol: RAFT flows, whole-video
 * ProPainter completion, PSNR / SSIM / E_warp, I3D for VFID) on `videos` clips of `frames` frames
 * cut from the bundled bmx-trees clip, first in this process (--nproc 1), then spread over N
 * worker processes (default: the cores): seconds per frame (wall) and peak memory — this
 * process's peak RSS and wasm heap for one process; the largest sampled sum of the workers' RSS
 * (every 100 ms) and each worker's peak RSS for N. Det-init weights unless --weights names a
 * folder of the official files (the cost does not depend on the values). The two runs' metrics
 * must agree (checked).
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { cutClips } from '../lib/data/clips';
import { evaluationProcessBytes, planEvaluation, runEvaluation, type EvaluationRequest } from '../lib/eval/run';
import type { ResultsFile } from '../lib/eval/results';
import { fmtBytes, parseArgs, wasmHeapBytes } from './util';

const SAMPLE = path.join(__dirname, '..', 'data', 'davis-sample');

/** A /proc/<pid>/status field in bytes (0 when the process is gone). */
function statusBytes(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  try {
    const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** Pids of this process's evaluation workers (Linux /proc: children running lib/eval/worker). */
function workers(): number[] {
  const out: number[] = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      // pid (comm) state ppid …: comm may hold spaces, so parse after its closing parenthesis.
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) !== process.pid) continue;
      if (fs.readFileSync(`/proc/${d}/cmdline`, 'utf8').includes('worker')) out.push(Number(d));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** Samples the workers' memory while `fn` runs: peak of the sum of their RSS, and each one's peak RSS. */
async function sampled<T>(fn: () => Promise<T>): Promise<{ result: T; peakSum: number; perWorker: Map<number, number> }> {
  const perWorker = new Map<number, number>();
  let peakSum = 0;
  const sample = () => {
    let sum = 0;
    for (const pid of workers()) {
      sum += statusBytes(pid, 'VmRSS');
      perWorker.set(pid, Math.max(perWorker.get(pid) ?? 0, statusBytes(pid, 'VmHWM')));
    }
    peakSum = Math.max(peakSum, sum);
  };
  const timer = setInterval(sample, 100);
  try {
    const result = await fn();
    return { result, peakSum, perWorker };
  } finally {
    clearInterval(timer);
  }
}

const metricsOf = (r: ResultsFile) => JSON.stringify(r.per_video.map(({ seconds_per_frame: _s, ...row }) => row));

export async function run(args: string[]): Promise<void> {
  const { values } = parseArgs(args);
  const num = (k: string, d: number) => Number(values.get(k) ?? d);
  const videos = num('videos', 4);
  const frames = num('frames', 10);
  const width = num('width', 432);
  const height = num('height', 240);
  const nproc = num('nproc', os.availableParallelism());
  const weights = values.get('weights');
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pp-bench-eval-'));
  try {
    const root = path.join(tmp, 'data');
    const step = Math.max(1, Math.floor((80 - frames) / Math.max(1, videos - 1)));
    cutClips(SAMPLE, 'bmx-trees', root, Array.from({ length: videos }, (_, k) => ({ name: `bmx-${k}`, start: Math.min(k * step, 80 - frames) })), frames);
    const base: EvaluationRequest = {
      dataset: 'davis', videoRoot: path.join(root, 'JPEGImages_432_240'), maskRoot: path.join(root, 'test_masks'), width, height,
      raftIter: num('raft-iter', 20), ...(weights ? { weights } : { weights: path.join(tmp, 'none'), detInit: true }), log: () => undefined,
    };
    if (!weights) fs.mkdirSync(base.weights!);
    const plan = planEvaluation({ ...base, out: path.join(tmp, 'plan') });
    console.log(
      `evaluate: ${videos} videos × ${frames} frames at ${width}x${height}, raft_iter ${base.raftIter}, ${weights ? `weights ${weights}` : 'det-init weights'}; ` +
        `estimated ${fmtBytes(evaluationProcessBytes(plan, frames))} per process`,
    );
    const total = videos * frames;
    const t1 = performance.now();
    const cpu1 = process.cpuUsage();
    const one = await runEvaluation({ ...base, out: path.join(tmp, 'one'), nproc: 1 });
    const wall1 = (performance.now() - t1) / 1000;
    const cpu = process.cpuUsage(cpu1);
    const heap = wasmHeapBytes();
    console.log(
      `nproc 1: ${wall1.toFixed(1)} s, ${(wall1 / total).toFixed(3)} s/frame (process CPU ${((cpu.user + cpu.system) / 1e6).toFixed(1)} s); ` +
        `peak RSS ${fmtBytes(statusBytes(process.pid, 'VmHWM'))}${heap !== null ? `, wasm heap ${fmtBytes(heap)}` : ''}`,
    );
    if (nproc > 1) {
      const tN = performance.now();
      const s = await sampled(() => runEvaluation({ ...base, out: path.join(tmp, 'n'), nproc }));
      const wallN = (performance.now() - tN) / 1000;
      const workers = [...s.perWorker.values()].map(fmtBytes).join(', ');
      console.log(
        `nproc ${nproc}: ${wallN.toFixed(1)} s, ${(wallN / total).toFixed(3)} s/frame (${(wall1 / wallN).toFixed(2)}× one process); ` +
          `peak sum of worker RSS ${fmtBytes(s.peakSum)} (sampled), per worker ${workers}`,
      );
      if (metricsOf(s.result) !== metricsOf(one)) throw new Error('the metrics of the two runs differ');
      console.log('metrics: identical for 1 and N processes');
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}
