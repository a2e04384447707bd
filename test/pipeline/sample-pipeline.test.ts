/**
 * The `npm start` pipeline end to end with tiny iteration counts (the shipped quick configs with
 * overrides): data check, both trainings on the bundled clip's frames, the evaluation of the
 * trained ProPainter and of det-init weights on the held-out video, report; a second call skips
 * the finished runs and evaluations; bad input is named.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { initRuntime } from '../../lib/runtime';
import { runSamplePipeline } from '../../lib/pipeline/sample-pipeline';
import { readRunLog } from '../../lib/report';
import { DET_INIT_WEIGHTS, readResultsFile } from '../../lib/eval/results';

const ROOT = path.resolve(__dirname, '..', '..');
process.chdir(ROOT); // the configs' paths are relative to the repository root

function sets(work: string, name: string, iters: number): string[] {
  return [
    `save_dir=${path.join(work, name)}`,
    `datasets.train.root=${path.join(work, 'data')}`,
    `datasets.val.root=${path.join(work, 'data')}`,
    `train.total_iter=${iters}`,
    `train.save_freq=${iters}`,
    `train.val_freq=${iters}`,
    `train.image_freq=${iters}`,
    'train.log_freq=1',
  ];
}

test('pipeline: validate, build the set, train both networks, evaluate, report; a rerun skips the finished runs', async () => {
  await initRuntime();
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'pipeline-'));
  const report = path.join(work, 'report.html');
  const evalDir = path.join(work, 'eval');
  const opts = { flowcompSets: sets(work, 'fc', 2), propainterSets: sets(work, 'pp', 1), report, evalDir, console: false };
  const logs: string[] = [];
  const before = tf.memory().numTensors;
  const res = await runSamplePipeline({ ...opts, log: (l) => logs.push(l) });
  assert.equal(res.status, 'finished');
  assert.equal(tf.memory().numTensors, before, 'no tensors left behind');
  assert.ok(logs.some((l) => l.includes('data/davis-sample: 1 video(s), 80 frames, 80 masks')), logs.join('\n'));
  assert.ok(logs.some((l) => l.includes('textured with the frames of data/davis-sample/JPEGImages_432_240/bmx-trees')));
  // The set is built from the clip's frames and indexed.
  const index = JSON.parse(fs.readFileSync(path.join(work, 'data', 'train.json'), 'utf8'));
  assert.equal(Object.keys(index).length, 4);
  for (const [dir, iters] of [['fc', 2], ['pp', 1]] as const) {
    const run = readRunLog(path.join(work, dir));
    assert.deepEqual(run.steps.map((s) => s.iteration), Array.from({ length: iters }, (_, i) => i + 1));
    assert.equal(run.validations.length, 1);
    assert.ok(Object.values(run.validations[0].metrics).every(Number.isFinite));
    assert.ok(run.samples.some((s) => s.phase === 'val') && run.samples.some((s) => s.phase === 'train'), `${dir}: sample images`);
    assert.equal(JSON.parse(fs.readFileSync(path.join(work, dir, 'latest.json'), 'utf8')).iteration, iters);
    assert.ok(fs.readdirSync(path.join(work, dir, 'tb')).some((f) => f.startsWith('events.out.tfevents.')));
  }
  // ProPainter froze the flow net this pipeline trained.
  assert.ok(logs.some((l) => l.includes(`weights from ${path.join(work, 'fc', 'gen_000002.safetensors')}`)), logs.join('\n'));
  // The trained generator (with the flow net it froze) and det-init, on the held-out video with its exact flows.
  const evals = [path.join(evalDir, 'quick_propainter-heldout'), path.join(evalDir, 'det-init-heldout')];
  assert.deepEqual(res.evaluations, evals);
  const [trained, baseline] = evals.map((d) => readResultsFile(d));
  for (const r of [trained, baseline]) {
    assert.ok(r.complete);
    assert.equal(r.protocol.load_flow, true);
    assert.deepEqual([r.protocol.width, r.protocol.height], [64, 64]);
    assert.deepEqual(r.per_video.map((v) => [v.video, v.frames]), [['synth_0003', 12]]);
    assert.ok(r.summary.psnr !== null && Number.isFinite(r.summary.psnr) && r.summary.ewarp !== null && Number.isFinite(r.summary.ewarp));
  }
  assert.equal(trained.weights.generator.path, path.join(work, 'pp', 'gen_000001.safetensors'));
  assert.equal(trained.weights.flowComplete.path, path.join(work, 'fc', 'gen_000002.safetensors'));
  assert.deepEqual([baseline.weights.generator, baseline.weights.flowComplete], [DET_INIT_WEIGHTS, DET_INIT_WEIGHTS]);
  assert.notEqual(trained.summary.psnr, baseline.summary.psnr);
  const html = fs.readFileSync(report, 'utf8');
  assert.ok(html.includes('quick_flowcomp') && html.includes('quick_propainter') && html.includes('validation psnr'));
  assert.ok(html.includes('quick_propainter-heldout') && html.includes('det-init-heldout'), 'the evaluation section');
  assert.ok(html.split('data:image/png;base64,').length - 1 >= 4, 'sample images of both runs');

  const again: string[] = [];
  fs.rmSync(report);
  const res2 = await runSamplePipeline({ ...opts, log: (l) => again.push(l) });
  assert.equal(res2.status, 'finished');
  assert.equal(again.filter((l) => l.includes('already trained')).length, 2, again.join('\n'));
  assert.equal(again.filter((l) => l.includes('1 of 1 videos finished earlier, skipped')).length, 2, again.join('\n'));
  assert.ok(fs.readFileSync(report, 'utf8').includes('skipped (already trained'), 'the report says the runs were not retrained');
});

test('pipeline: a bad sample folder and a bad override are named', async () => {
  await initRuntime();
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'pipeline-'));
  const sample = path.join(work, 'sample');
  fs.cpSync(path.join(ROOT, 'data', 'davis-sample'), sample, { recursive: true });
  const mask = path.join(sample, 'test_masks', 'bmx-trees', '00010.png');
  assert.ok(fs.existsSync(mask), mask);
  fs.writeFileSync(mask, 'not a png');
  await assert.rejects(
    runSamplePipeline({ sample, flowcompSets: sets(work, 'fc', 1), propainterSets: sets(work, 'pp', 1), report: path.join(work, 'r.html'), log: () => {} }),
    (e: Error) => e.message.includes('00010.png'),
  );
  assert.ok(!fs.existsSync(path.join(work, 'fc')), 'nothing trained after a data error');
  const r = spawnSync(process.execPath, [path.join(ROOT, 'bin', 'propainter.js'), 'pipeline', '--flowcomp-set', 'train.lrr=1'], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /train\.lrr/);
});
