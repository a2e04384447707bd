/**
 * Training reliability (issue #15): runs never overwrite each other (resume writes where it
 * resumed from, a used folder needs `overwrite`, latest.json never moves backwards), checkpoint
 * rotation, leftovers of killed saves removed, an error mid-run saves the last sound state, a
 * truncated JPEG stops training naming it or is skipped (datasets.train.skip_bad_samples), a
 * step that cannot fit the wasm heap is refused before anything is built, corrupt or foreign
 * checkpoints are named.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { useBackend } from '../../lib/runtime';
import { Run } from '../../lib/train/loop';
import { resolveConfig } from '../../lib/train/config';
import { rotateCheckpoints, saveCheckpoint } from '../../lib/train/checkpoint';
import { trainDataset } from '../../lib/train/data';
import { checkTrainStepFits, trainStepHeapBytes } from '../../lib/train/step-memory';
import { DataLoader } from '../../lib/data/loader';
import { writeSynthDataset } from '../../lib/data/prepare';
import { writeSafetensors } from '../../lib/io/safetensors';
import type { StateDict } from '../../lib/io/host-tensor';
import { flowcompConfig, synthRoot, tmpDir } from './helpers';

const quiet = (lines: string[] = []) => ({ console: false, log: (l: string) => void lines.push(l) }) as const;
const latest = (dir: string) => JSON.parse(fs.readFileSync(path.join(dir, 'latest.json'), 'utf8')).iteration as number;
const jsonl = (file: string) => fs.readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
const ls = (dir: string) => fs.readdirSync(dir).sort();
const checkpointFiles = (dir: string) => ls(dir).filter((f) => /^(gen|dis|opt|state)_\d{6}\.(safetensors|json|pth)$/.test(f));

/** A flow-completion run folder at 32×32 with one checkpoint, after `steps` steps. */
async function savedRun(dir: string, steps: number): Promise<string> {
  await useBackend('wasm');
  const root = await synthRoot(32);
  const run = await Run.create(flowcompConfig(root, dir), quiet());
  await run.step(steps);
  await run.save();
  await run.dispose();
  return root;
}

test('resume writes into the folder it resumed from, not the save_dir the checkpoint recorded', async () => {
  const a = tmpDir('orig');
  await savedRun(a, 1);
  const copy = tmpDir('copy');
  for (const f of ls(a)) if (f.endsWith('.json') || f.endsWith('.safetensors')) fs.copyFileSync(path.join(a, f), path.join(copy, f));
  const before = ls(a);
  const lines: string[] = [];
  const resumed = await Run.create(null, { ...quiet(lines), resume: copy });
  assert.equal(resumed.config.save_dir, copy);
  assert.ok(lines.some((l) => l.includes(`continuing in ${copy} (not in save_dir ${a})`)), lines.join('\n'));
  await resumed.step(1);
  await resumed.save();
  await resumed.dispose();
  assert.deepEqual(ls(a), before, 'the original run folder is untouched');
  assert.equal(latest(a), 1);
  assert.equal(latest(copy), 2);
  assert.ok(fs.existsSync(path.join(copy, 'state_000002.json')));
});

test('a used run folder: starting over or resuming an older checkpoint needs overwrite; latest.json never moves backwards', async () => {
  await useBackend('wasm');
  const root = await synthRoot(32);
  const dir = tmpDir('used');
  const cfg = flowcompConfig(root, dir);
  Object.assign(cfg.train as Record<string, unknown>, { save_freq: 1 });
  const run = await Run.create(cfg, quiet());
  await run.step(3);
  await run.dispose();
  assert.equal(latest(dir), 3);
  await assert.rejects(Run.create(flowcompConfig(root, dir), quiet()), new RegExp(`${dir}: already holds checkpoints \\(latest\\.json: iteration 3\\); continue them with --resume`));
  await assert.rejects(Run.create(null, { ...quiet(), resume: path.join(dir, 'state_000001.json') }), /iteration 1 is not the newest checkpoint here \(latest\.json: iteration 3\)/);
  // saveCheckpoint itself refuses to move latest.json backwards (another run writing into the folder).
  const one: StateDict = new Map([['w', { dtype: 'float32', shape: [1], data: Float32Array.of(1) }]]);
  assert.throws(
    () => saveCheckpoint(dir, { gen: one, optimizers: {}, state: { iteration: 2, epoch: 0, rng: null, config: {} } }),
    /latest\.json: names iteration 3, past this run's 2 — another run writes into/,
  );
  assert.equal(latest(dir), 3);
  // overwrite: resuming at 1 deletes the checkpoints after it, and the run continues from 1.
  const lines: string[] = [];
  const r2 = await Run.create(null, { ...quiet(lines), resume: path.join(dir, 'state_000001.json'), overwrite: true });
  assert.ok(lines.some((l) => l.includes('--overwrite: deleted the checkpoint(s) of iteration 2, 3 (after 1)')), lines.join('\n'));
  assert.equal(latest(dir), 1);
  assert.ok(!fs.existsSync(path.join(dir, 'gen_000003.safetensors')));
  await r2.dispose();
  // overwrite from scratch deletes them all (official files stay).
  fs.writeFileSync(path.join(dir, 'gen_000009.pth'), 'an official checkpoint');
  const r3 = await Run.create(flowcompConfig(root, dir), { ...quiet(), overwrite: true });
  assert.equal(r3.iteration, 0);
  assert.ok(!fs.existsSync(path.join(dir, 'latest.json')));
  assert.deepEqual(checkpointFiles(dir), ['gen_000009.pth']);
  await r3.dispose();
});

test('train.keep_checkpoints keeps the newest N (never the one latest.json names, never official files); stale temporary files are removed at start', async () => {
  await useBackend('wasm');
  const root = await synthRoot(32);
  const dir = tmpDir('rotate');
  fs.writeFileSync(path.join(dir, 'gen_000001.pth'), 'official');
  // Left by a save a SIGKILL cut short (pid 99999999 is above any pid_max), by a live process (ours), and not ours.
  const stale = ['.gen_000004.safetensors.99999999.7.tmp', path.join('samples', '.000002_img.png.99999999.1.tmp')];
  const kept = [`.latest.json.${process.ppid}.1.tmp`, '.notes.tmp', 'gen_000004.safetensors.99999999.7.tmp'];
  for (const f of [...stale, ...kept]) {
    fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
    fs.writeFileSync(path.join(dir, f), 'x');
  }
  const cfg = flowcompConfig(root, dir);
  Object.assign(cfg.train as Record<string, unknown>, { save_freq: 1, keep_checkpoints: 2 });
  const lines: string[] = [];
  const run = await Run.create(cfg, quiet(lines));
  await run.step(4);
  await run.dispose();
  assert.ok(lines.some((l) => l.includes('removed 2 temporary file(s) of an interrupted save')), lines.join('\n'));
  for (const f of stale) assert.ok(!fs.existsSync(path.join(dir, f)), f);
  for (const f of kept) assert.ok(fs.existsSync(path.join(dir, f)), f);
  assert.deepEqual(checkpointFiles(dir), [
    'gen_000001.pth', 'gen_000003.safetensors', 'gen_000004.safetensors', 'opt_000003.safetensors', 'opt_000004.safetensors', 'state_000003.json', 'state_000004.json',
  ]);
  // The set latest.json names survives even when it is not among the newest.
  fs.writeFileSync(path.join(dir, 'latest.json'), JSON.stringify({ iteration: 3, state: 'state_000003.json' }));
  assert.deepEqual(rotateCheckpoints(dir, 1), [4]);
  assert.deepEqual(ls(dir).filter((f) => f.endsWith('_000003.json') || f.endsWith('_000004.json')), ['state_000003.json']);
});

/** A JPEG dataset whose video read by the third iteration has truncated frames; returns its config and that video's frames. */
async function truncatedSet(tag: string, extra: Record<string, unknown>): Promise<{ cfg: Record<string, unknown>; bad: string }> {
  const root = path.join(tmpDir(tag), 'data');
  await writeSynthDataset({ out: root, videos: 3, frames: 8, width: 32, height: 32, seed: 3, format: 'jpg', floEncoding: 'float32', maxSpeed: 2 });
  const cfg = flowcompConfig(root, path.join(path.dirname(root), 'run'), 32, extra);
  const ds = trainDataset(resolveConfig(cfg));
  const video = ds.videoNames[new DataLoader(ds, { batchSize: 1, seed: 7 }).job(2).indices[0]];
  const bad = path.join(ds.framesDir, video);
  for (const f of fs.readdirSync(bad)) {
    const file = path.join(bad, f);
    const bytes = fs.readFileSync(file);
    fs.writeFileSync(file, bytes.subarray(0, bytes.length >> 1)); // cut mid-scan
  }
  return { cfg, bad };
}

test('a truncated JPEG mid-run: one error naming the file, after a checkpoint of the last completed iteration', async () => {
  await useBackend('wasm');
  const { cfg, bad } = await truncatedSet('badjpeg', {});
  Object.assign(cfg.train as Record<string, unknown>, { total_iter: 5, save_freq: 1000 });
  const dir = cfg.save_dir as string;
  const lines: string[] = [];
  const run = await Run.create(cfg, quiet(lines));
  await assert.rejects(run.train(), new RegExp(`^Error: ${bad}/\\d{5}\\.jpg: cannot read image \\(`));
  await run.dispose();
  assert.ok(lines.some((l) => l === `stopped by an error after iteration 2: its state is saved (${path.join(dir, 'state_000002.json')}); resume with --resume ${dir} once the cause is fixed`), lines.join('\n'));
  assert.equal(latest(dir), 2);
  // The data position is the failed batch's, so a resume reads it again.
  assert.deepEqual(JSON.parse(fs.readFileSync(path.join(dir, 'state_000002.json'), 'utf8')).rng.data, { epoch: 0, batch: 2 });
  const log = jsonl(path.join(dir, 'log.jsonl'));
  assert.deepEqual(log.slice(-2).map((e) => [e.event, e.iteration, e.reason]), [['checkpoint', 2, undefined], ['end', 2, 'error']]);
});

test('datasets.train.skip_bad_samples: a truncated JPEG is logged and skipped (data workers too); a dataset of bad files still stops', async () => {
  await useBackend('wasm');
  const { cfg, bad } = await truncatedSet('skipjpeg', {});
  Object.assign((cfg.datasets as { train: Record<string, unknown> }).train, { skip_bad_samples: true, num_workers: 1 });
  Object.assign(cfg.train as Record<string, unknown>, { total_iter: 3, save_freq: 1000 });
  const lines: string[] = [];
  const run = await Run.create(cfg, quiet(lines));
  assert.equal(await run.train(), 'finished');
  await run.dispose();
  const skipped = lines.filter((l) => l.startsWith('datasets.train.skip_bad_samples: skipped an unreadable sample ('));
  assert.equal(skipped.length, 1, lines.join('\n'));
  assert.match(skipped[0], new RegExp(`\\(${bad}/\\d{5}\\.jpg: cannot read image \\(`));
  assert.equal(latest(cfg.save_dir as string), 3);
  // Every video unreadable: the loader gives up after 10 in a row, naming the last file.
  for (const v of fs.readdirSync(path.dirname(bad))) {
    for (const f of fs.readdirSync(path.join(path.dirname(bad), v))) fs.writeFileSync(path.join(path.dirname(bad), v, f), 'not a jpeg');
  }
  const broken = await Run.create({ ...cfg, save_dir: tmpDir('broken') }, quiet());
  await assert.rejects(broken.train(), /^Error: 10 unreadable samples in a row \(the dataset looks broken\); the last: .*\/synth_000\d\/\d{5}\.jpg: cannot read image/);
  await broken.dispose();
});

test('an error inside a step: before the optimizer update the last iteration is saved; during it nothing is (half-updated weights)', async () => {
  await useBackend('wasm');
  const root = await synthRoot(32);
  const dir = tmpDir('steperr');
  const cfg = flowcompConfig(root, dir);
  Object.assign(cfg.train as Record<string, unknown>, { total_iter: 5 });
  let calls = 0;
  const lines: string[] = [];
  // The gradient seam (data-parallel averaging) fails on the third step, before Adam runs.
  const run = await Run.create(cfg, { ...quiet(lines), reduceGradients: (_role, g) => {
    if (++calls === 3) throw new Error('allreduce failed');
    return g;
  } });
  await assert.rejects(run.train(), /allreduce failed/);
  assert.ok(run.stateIsSound);
  assert.ok(lines.some((l) => l.startsWith('stopped by an error after iteration 2: its state is saved')), lines.join('\n'));
  assert.equal(latest(dir), 2);
  await run.dispose();
  // Failing once the update began: not sound, nothing saved, and the run refuses to go on.
  const dir2 = tmpDir('steperr2');
  const lines2: string[] = [];
  const half = await Run.create(flowcompConfig(root, dir2), quiet(lines2));
  const trainStep = half.system.trainStep.bind(half.system);
  half.system.trainStep = (b, ctx) => {
    const r = trainStep(b, ctx);
    if (ctx.iteration === 1) throw new Error('failed after the update');
    return r;
  };
  await assert.rejects(half.train(), /failed after the update/);
  assert.equal(half.stateIsSound, false);
  assert.ok(lines2.some((l) => l === 'stopped by an error during the optimizer update of iteration 2: no checkpoint of it (its weights are half-updated); there is no checkpoint yet'), lines2.join('\n'));
  assert.ok(!fs.existsSync(path.join(dir2, 'latest.json')));
  await assert.rejects(half.save(), /not saving iteration 1: a step failed during its optimizer update/);
  await assert.rejects(half.step(1), /half-updated/);
  await half.dispose();
});

test('resume: past train.total_iter is refused, at it nothing is trained; a corrupt state file and another model\'s checkpoint are named', async () => {
  const dir = tmpDir('resume-checks');
  const root = await savedRun(dir, 2);
  await assert.rejects(Run.create(null, { ...quiet(), resume: dir, sets: ['train.total_iter=1'] }), new RegExp(`state_000002\\.json: the checkpoint is at iteration 2, past train\\.total_iter 1 — nothing to train`));
  const lines: string[] = [];
  const atEnd = await Run.create(null, { ...quiet(lines), resume: dir, sets: ['train.total_iter=2'] });
  assert.equal(await atEnd.train(), 'finished');
  await atEnd.dispose();
  assert.ok(lines.includes(`${dir}: already at iteration 2, train.total_iter is 2: nothing to train (raise train.total_iter to continue)`), lines.join('\n'));
  const state = path.join(dir, 'state_000002.json');
  const text = fs.readFileSync(state, 'utf8');
  const pp = { ...flowcompConfig(root, tmpDir('pp')), model: 'propainter', networks: { allow_det_init: true } };
  await assert.rejects(Run.create(pp, { ...quiet(), resume: dir }), new RegExp(`^Error: ${state}: this checkpoint is a flow-completion model \\(recurrent_flow_completion\\), the config trains ProPainter \\(propainter\\); give the config it was trained with$`));
  fs.writeFileSync(state, text.slice(0, 40));
  await assert.rejects(Run.create(null, { ...quiet(), resume: dir }), new RegExp(`^Error: ${state}: not a valid checkpoint state \\(.*JSON.*\\); the file is damaged — resume from an earlier checkpoint$`));
  fs.writeFileSync(path.join(dir, 'latest.json'), '{"iter');
  await assert.rejects(Run.create(null, { ...quiet(), resume: dir }), new RegExp(`^Error: ${dir}/latest\\.json: not a valid checkpoint pointer`));
});

test('wasm heap: the step estimate reproduces the measured steps; a config that cannot fit is refused before its first step', async () => {
  const GiB = 2 ** 30;
  const est = (model: 'propainter' | 'recurrent_flow_completion', h: number, w: number, l: number, r: number, batch = 1) =>
    trainStepHeapBytes({ model, height: h, width: w, localFrames: l, refFrames: r, batch }) / GiB;
  // The measured points (npm run bench -- train) the scaling comes from, and two it predicts.
  assert.ok(Math.abs(est('recurrent_flow_completion', 120, 216, 5, 1) - 0.89) < 1e-9);
  assert.ok(Math.abs(est('recurrent_flow_completion', 240, 432, 5, 0) - 3.05) < 0.01); // measured 3.06
  assert.ok(Math.abs(est('propainter', 120, 216, 5, 1) - 2.06) < 1e-9);
  assert.ok(Math.abs(est('propainter', 64, 64, 3, 1) - 1.29) < 0.01); // measured 1.29
  assert.ok(Math.abs(est('propainter', 120, 216, 5, 1, 2) - (2.06 + 0.86)) < 1e-9);
  const big = resolveConfig({ model: 'propainter', datasets: { train: { root: '-', width: 864, height: 480 } }, train: { batch_size: 1 } });
  assert.throws(
    () => checkTrainStepFits(big),
    /^Error: a propainter training step at 864×480 with 10\+6 frames and 1 sample\(s\) needs ~37\.9 GiB of wasm heap \(scaled from measured steps\), above the 3\.5 GiB budget; train with the tensorflow backend \(npm install @tensorflow\/tfjs-node or @tensorflow\/tfjs-node-gpu\), or at most 216×120 \(datasets\.train\.width \/ height\)$/,
  );
  // The official config (8 samples a step): one sample per step with grad_accum, and the size that then fits.
  const official = resolveConfig({ model: 'propainter', datasets: { train: { root: '-', width: 864, height: 480 } }, train: { batch_size: 8 } });
  assert.throws(() => checkTrainStepFits(official), /needs ~294\.7 GiB .*, or train\.batch_size 1 with grad_accum 8 and at most 216×120 \(datasets\.train\.width \/ height\), or at most 72×40 /);
  const batch = resolveConfig({ model: 'recurrent_flow_completion', datasets: { train: { root: '-', width: 216, height: 120, num_local_frames: 10 } }, train: { batch_size: 4 } });
  assert.throws(() => checkTrainStepFits(batch), /with 10 frames and 4 sample\(s\) needs ~5\.9 GiB .*, or train\.batch_size 1 with grad_accum 4, or at most 160×88 \(datasets\.train\.width \/ height\), or at most 5 frames per sample \(num_local_frames\)$/);
  checkTrainStepFits(resolveConfig({ model: 'propainter', datasets: { train: { root: '-', width: 216, height: 120, num_local_frames: 5, num_ref_frames: 1 } }, train: { batch_size: 1 } }));
  // A run refuses on wasm before its first step writes or reads anything (frames would be upsampled to 1024×1024).
  await useBackend('wasm');
  const dir = path.join(tmpDir('big'), 'run');
  const run = await Run.create(flowcompConfig(await synthRoot(32), dir, 1024), quiet());
  await assert.rejects(run.step(1), /^Error: a recurrent_flow_completion training step at 1024×1024 with 3 frames and 1 sample\(s\) needs ~17\.6 GiB of wasm heap/);
  await assert.rejects(run.train(), /needs ~17\.6 GiB/);
  await run.dispose();
  assert.ok(!fs.existsSync(dir), 'nothing written');
});
