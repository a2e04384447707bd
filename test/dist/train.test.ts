/**
 * Data-parallel training end to end (`propainter train` on two processes, Open MPI and MPICH, both
 * installed by .ci/run): K steps with total batch 2 on two processes against K steps with batch 2
 * in one process, for flow completion and ProPainter at 32×32; a killed rank; a batch one rank
 * cannot read; Ctrl-C on the launcher; resume on another number of processes.
 *
 * Two official loss details couple the samples of a batch: hole / valid L1 divide by the mask
 * area of the whole batch (mean(|Δ|·m) / mean(m)), and flow completion's Canny edges of the GT
 * flows are normalised by the batch's largest flow magnitude (get_edges). One process with
 * batch 2 and the mean of two processes' batch-1 gradients therefore agree only when the samples'
 * mask areas and flow peaks agree — exactly as with PyTorch DDP in the official trainer. The data
 * here is made so (see dataset()); the gradients then agree to float rounding (~3e-5 relative,
 * the same as swapping the two samples of one batch).
 */
import { after, test } from 'node:test';
import type { ChildProcess } from 'node:child_process';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { findMpiexec, mpiexecArgs } from '../../lib/dist';
import { readSafetensors } from '../../lib/io/safetensors';
import { readFlo, writeFlo } from '../../lib/io/flo';
import { writeSynthDataset } from '../../lib/data/prepare';
import { DataLoader } from '../../lib/data/loader';
import { resolveConfig } from '../../lib/train/config';
import { trainDataset } from '../../lib/train/data';
import { flowcompConfig, propainterConfig, tmpDir as makeTmpDir } from '../train/helpers';
import { BIN, lastLine, run, type Run } from './helpers';

const K = 2;

// Run folders hold real checkpoints (ProPainter's are 0.5 GB each): removed after the tests.
const made: string[] = [];
function tmpDir(tag: string): string {
  const d = makeTmpDir(tag);
  made.push(d);
  return d;
}
after(() => {
  for (const d of made) fs.rmSync(d, { recursive: true, force: true });
});
/** Generous bounds for a loaded 2-core machine; the jobs take seconds to a minute. */
const JOB_MS = 400_000;
const ENV = { PROPAINTER_BACKEND: 'wasm' };

/**
 * A synthetic set (4 videos of 8 frames, 32×32) made batch-separable for the official losses: a
 * mask root of one static rectangle for every frame of every video, and every flow with a marker
 * pixel of magnitude 16 (the others stay below 4), so each sample's flow peak equals the batch's.
 */
async function dataset(): Promise<{ root: string; masks: string }> {
  const root = tmpDir('dist-data');
  await writeSynthDataset({ out: root, videos: 4, frames: 8, width: 32, height: 32, seed: 3, format: 'png', floEncoding: 'float32', maxSpeed: 2 });
  for (const v of fs.readdirSync(path.join(root, 'flows'))) {
    for (const f of fs.readdirSync(path.join(root, 'flows', v))) {
      const file = path.join(root, 'flows', v, f);
      const flow = readFlo(file);
      flow.data[0] = 16;
      flow.data[1] = 0;
      writeFlo(file, flow, flow.encoding);
    }
  }
  const masks = tmpDir('dist-masks');
  const src = path.join(root, 'test_masks', 'synth_0000', '00000.png');
  for (const v of fs.readdirSync(path.join(root, 'test_masks'))) {
    fs.mkdirSync(path.join(masks, v));
    for (const f of fs.readdirSync(path.join(root, 'test_masks', v))) fs.copyFileSync(src, path.join(masks, v, f));
  }
  return { root, masks };
}

function writeConfig(kind: 'flowcomp' | 'propainter', root: string, masks: string, extra: Record<string, unknown> = {}): string {
  const base = kind === 'flowcomp' ? flowcompConfig(root, 'unused') : propainterConfig(root, 'unused');
  const cfg = {
    ...base,
    datasets: { train: { ...(base.datasets as { train: object }).train, mask_root: masks } },
    train: { ...(base.train as object), batch_size: 2, total_iter: K, save_freq: K, ...extra },
  };
  const file = path.join(tmpDir(`dist-${kind}`), 'config.json');
  fs.writeFileSync(file, JSON.stringify(cfg));
  return file;
}

const train = (args: string[], opts: Parameters<typeof run>[1] = {}): Promise<Run> => run([process.execPath, BIN, 'train', '--quiet', ...args], { env: ENV, hangMs: JOB_MS, ...opts });

/** ‖a − b‖ / ‖b‖ over all float tensors of two safetensors files (same names and shapes asserted). */
function relativeDifference(a: string, b: string): { rel: number; tensors: number } {
  const fa = readSafetensors(a).tensors;
  const fb = readSafetensors(b).tensors;
  assert.deepEqual([...fa.keys()].sort(), [...fb.keys()].sort(), `${path.basename(a)}: same tensors`);
  let diff = 0;
  let norm = 0;
  for (const [k, ta] of fa) {
    const tb = fb.get(k)!;
    assert.deepEqual(ta.shape, tb.shape, k);
    for (let i = 0; i < ta.data.length; i++) {
      const d = Number(ta.data[i]) - Number(tb.data[i]);
      diff += d * d;
      norm += Number(tb.data[i]) ** 2;
    }
  }
  return { rel: Math.sqrt(diff / Math.max(norm, 1e-30)), tensors: fa.size };
}

function files(dir: string): string[] {
  return fs.readdirSync(dir).sort();
}

/** Both runs' checkpoints at iteration K: same files, weights and optimizer states within 1e-5 relative, state identical but for save_dir. */
function assertSameCheckpoints(one: string, two: string): void {
  assert.deepEqual(files(two), files(one), 'rank 0 alone wrote, the same files as one process');
  const tag = String(K).padStart(6, '0');
  for (const f of files(one).filter((n) => n.endsWith(`_${tag}.safetensors`))) {
    const { rel, tensors } = relativeDifference(path.join(two, f), path.join(one, f));
    console.log(`${f}: ${tensors} tensors, relative difference ${rel.toExponential(2)}`);
    assert.ok(rel <= 1e-5, `${f}: relative difference ${rel}`);
  }
  const state = (dir: string) => {
    const s = JSON.parse(fs.readFileSync(path.join(dir, `state_${tag}.json`), 'utf8'));
    delete s.config.save_dir;
    return s;
  };
  assert.deepEqual(state(two), state(one));
  const log = fs.readFileSync(path.join(two, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.equal(log[0].processes, 2);
  assert.equal(log.filter((l) => l.event === undefined).length, K, 'one record per step (rank 0 alone logs)');
}

/**
 * K steps of `kind` with total batch 2: in one process, then on two by `twoProcesses(cfg, saveDir)`;
 * the two runs' checkpoints must agree. Returns the two-process job's output.
 */
async function compareWithOneProcess(kind: 'flowcomp' | 'propainter', twoProcesses: (cfg: string, saveDir: string) => Promise<Run>): Promise<Run> {
  const { root, masks } = await dataset();
  const cfg = writeConfig(kind, root, masks);
  const one = tmpDir(`dist-${kind}-one`);
  const two = tmpDir(`dist-${kind}-two`);
  const a = await train(['-c', cfg, '--set', `save_dir=${one}`]);
  assert.equal(a.code, 0, a.out + a.err);
  const b = await twoProcesses(cfg, two);
  assert.equal(b.code, 0, b.out + b.err);
  assertSameCheckpoints(one, two);
  return b;
}

test('flow completion: 2 steps with total batch 2 on two processes (launched by propainter train --nproc 2, Open MPI) = 2 steps with batch 2 in one process', async () => {
  const b = await compareWithOneProcess('flowcomp', (cfg, dir) => train(['-c', cfg, '--set', `save_dir=${dir}`, '--nproc', '2', '--mpi', 'openmpi']));
  assert.match(b.err, /propainter: rank 1 of 2 on \S+, pid \d+, Open MPI v4/);
});

test('ProPainter (G and D): 2 steps with total batch 2 under mpiexec -n 2 (MPICH) = 2 steps with batch 2 in one process', async () => {
  const m = findMpiexec('mpich');
  const b = await compareWithOneProcess('propainter', (cfg, dir) =>
    run([m.path, ...mpiexecArgs(m, 2, [process.execPath, BIN, 'train', '--quiet', '-c', cfg, '--set', `save_dir=${dir}`], { root: process.getuid?.() === 0 })], { env: ENV, hangMs: JOB_MS }),
  );
  assert.match(b.err, /propainter: rank 1 of 2 on \S+, pid \d+, MPICH 4/);
});

test('a rank killed mid-run ends the job non-zero within seconds naming it; the last checkpoint is intact and resumes on one process', async () => {
  const { root, masks } = await dataset();
  const cfg = writeConfig('flowcomp', root, masks, { total_iter: 60, save_freq: 1 });
  const dir = tmpDir('dist-kill');
  let killedAt = 0;
  let err = '';
  // Once a checkpoint exists, kill rank 1 (its pid is on its join line).
  const poll = setInterval(() => {
    const pid = Number(/propainter: rank 1 of 2 on \S+, pid (\d+)/.exec(err)?.[1]);
    if (killedAt || !pid || !fs.existsSync(path.join(dir, 'latest.json'))) return;
    killedAt = Date.now();
    process.kill(pid, 'SIGKILL');
  }, 100);
  let r: Run;
  try {
    r = await train(['-c', cfg, '--set', `save_dir=${dir}`, '--nproc', '2', '--mpi', 'openmpi'], { onErr: (text) => (err = text), hangMs: 200_000 });
  } finally {
    clearInterval(poll);
  }
  assert.ok(killedAt > 0, r.err);
  const seconds = (Date.now() - killedAt) / 1000;
  console.log(`job over ${seconds.toFixed(1)} s after the kill`);
  assert.notEqual(r.code, 0);
  assert.match(lastLine(r.err), /^error: rank 1 of 2 .*(killed by signal 9|Killed)/);
  assert.ok(seconds < 30, `the job took ${seconds} s to end`);
  const latest = JSON.parse(fs.readFileSync(path.join(dir, 'latest.json'), 'utf8')) as { iteration: number };
  assert.ok(latest.iteration >= 1);
  // Resume on one process (total batch 2 in one): one more step from the last checkpoint.
  const resumed = await train(['--resume', dir, '--set', `train.total_iter=${latest.iteration + 1}`, '--nproc', '1']);
  assert.equal(resumed.code, 0, resumed.out + resumed.err);
  assert.match(resumed.out + resumed.err, new RegExp(`resumed from .*state_${String(latest.iteration).padStart(6, '0')}\\.json at iteration ${latest.iteration}`));
  assert.equal(JSON.parse(fs.readFileSync(path.join(dir, 'latest.json'), 'utf8')).iteration, latest.iteration + 1);
});

test('a batch rank 1 cannot read stops both ranks at that iteration: rank 0 saves the last completed one, the job ends naming rank 1 and the file', async () => {
  // 8 videos = 4 total batches an epoch, so the video of global batch 2 is read first at iteration 3.
  const root = tmpDir('dist-bad-data');
  await writeSynthDataset({ out: root, videos: 8, frames: 8, width: 32, height: 32, seed: 3, format: 'png', floEncoding: 'float32', maxSpeed: 2 });
  const dir = tmpDir('dist-bad');
  const raw = flowcompConfig(root, dir);
  Object.assign(raw.train as Record<string, unknown>, { batch_size: 2, total_iter: 5, save_freq: 1000 });
  const cfg = resolveConfig(raw);
  const ds = trainDataset(cfg);
  const video = ds.videoNames[new DataLoader(ds, { batchSize: 1, seed: cfg.seed, shard: { rank: 1, count: 2 } }).job(2).indices[0]];
  for (const f of fs.readdirSync(path.join(ds.framesDir, video))) fs.writeFileSync(path.join(ds.framesDir, video, f), 'not an image');
  const file = path.join(tmpDir('dist-bad-cfg'), 'config.json');
  fs.writeFileSync(file, JSON.stringify(raw));
  const r = await train(['-c', file, '--nproc', '2', '--mpi', 'openmpi']);
  assert.notEqual(r.code, 0);
  const bad = path.join(ds.framesDir, video).replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  assert.match(lastLine(r.err), new RegExp(`^error: rank 1 of 2 failed: ${bad}/\\d{5}\\.png: cannot read image \\(`));
  assert.ok(r.out.includes(`stopped by an error after iteration 2: its state is saved (${path.join(dir, 'state_000002.json')})`), r.out);
  assert.equal(JSON.parse(fs.readFileSync(path.join(dir, 'latest.json'), 'utf8')).iteration, 2);
  // The data position is the failed batch's, so a resume reads it again.
  assert.deepEqual(JSON.parse(fs.readFileSync(path.join(dir, 'state_000002.json'), 'utf8')).rng.data, { epoch: 0, batch: 2 });
  const log = fs.readFileSync(path.join(dir, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.deepEqual(log.slice(-2).map((e) => [e.event, e.iteration, e.reason]), [['checkpoint', 2, undefined], ['end', 2, 'error']]);
});

test('Ctrl-C on the launcher (MPICH): both ranks stop after the same step, rank 0 writes one checkpoint there, and the run resumes on two processes', async () => {
  const { root, masks } = await dataset();
  const cfg = writeConfig('flowcomp', root, masks, { total_iter: 60, save_freq: 1000 });
  const dir = tmpDir('dist-sigint');
  const logFile = path.join(dir, 'log.jsonl');
  let launcher: ChildProcess | null = null;
  let sent = false;
  // After the first logged step, Ctrl-C the launching process.
  const poll = setInterval(() => {
    if (sent || !launcher || !fs.existsSync(logFile) || !/"iteration":1,/.test(fs.readFileSync(logFile, 'utf8'))) return;
    sent = true;
    launcher.kill('SIGINT');
  }, 100);
  let r: Run;
  try {
    r = await train(['-c', cfg, '--set', `save_dir=${dir}`, '--nproc', '2', '--mpi', 'mpich'], { onErr: (_text, child) => (launcher = child), hangMs: 200_000 });
  } finally {
    clearInterval(poll);
  }
  assert.ok(sent, r.err);
  assert.equal(r.code, 130, r.err); // as one training process stopped by Ctrl-C
  assert.match(r.err, /SIGINT: asking all 2 ranks to stop/);
  const log = fs.readFileSync(logFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  const steps = log.filter((l) => l.event === undefined).map((l) => l.iteration as number);
  const last = steps.at(-1)!;
  assert.ok(last >= 1 && last < 60, `stopped at ${last}`);
  assert.deepEqual(log.at(-1), { ...log.at(-1), event: 'end', reason: 'interrupted', iteration: last });
  assert.deepEqual(files(dir).filter((f) => f.startsWith('state_')), [`state_${String(last).padStart(6, '0')}.json`], 'one checkpoint, at the last step');
  assert.equal(JSON.parse(fs.readFileSync(path.join(dir, 'latest.json'), 'utf8')).iteration, last);
  // It resumes on two processes again (every rank loads the checkpoint; the config's saved with it).
  const resumed = await train(['--resume', dir, '--set', `train.total_iter=${last + 1}`, '--nproc', '2', '--mpi', 'mpich']);
  assert.equal(resumed.code, 0, resumed.out + resumed.err);
  assert.equal(JSON.parse(fs.readFileSync(path.join(dir, 'latest.json'), 'utf8')).iteration, last + 1);
});
