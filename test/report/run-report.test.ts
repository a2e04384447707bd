/** Run folders read back (resumes, cut lines, bad files) and the HTML report they render to. */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readRunLog, renderRunReport, scalarSeries, trainingSeconds, windowMean, writeRunReport } from '../../lib/report';
import { encodePng } from '../../lib/viz/image';
import { assertPlotsRendered, inspectHtml, requireChromium } from '../notebooks/helpers';

const lines = (objs: object[]) => objs.map((o) => JSON.stringify(o)).join('\n') + '\n';
const step = (it: number, loss: number) => ({ iteration: it, epoch: 0, lr: 1e-4, lr_d: 1e-4, it_per_s: 2, size: [64, 64], 'loss/total': loss, 'loss/dis_loss': 1 });

/** A run that trained 1..6, was resumed from its checkpoint at 4 and trained 5..8 again. */
async function fakeRun(): Promise<string> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'run-'));
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({
    name: 'toy', model: 'recurrent_flow_completion', train: { total_iter: 8, batch_size: 1, lr_scheme: 'MultiStepLR' },
    datasets: { train: { root: 'x', num_local_frames: 5, num_ref_frames: 1, synth: { source: 'data/davis-sample/JPEGImages_432_240/bmx-trees' } } },
  }));
  const first = [1, 2, 3, 4, 5, 6].map((i) => step(i, 10 - i));
  const second = [5, 6, 7, 8].map((i) => step(i, 1 / i));
  fs.writeFileSync(path.join(dir, 'log.jsonl'), lines([
    { event: 'start', iteration: 0, time: '2026-01-01T00:00:00Z', name: 'toy', model: 'recurrent_flow_completion', backend: 'wasm' },
    ...first.slice(0, 4),
    { event: 'validation', iteration: 4, 'val/epe': 0.5 },
    { event: 'checkpoint', iteration: 4, state: 'state_000004.json' },
    ...first.slice(4),
    { event: 'validation', iteration: 6, 'val/epe': 9 },
    { event: 'start', iteration: 4, time: '2026-01-01T01:00:00Z', name: 'toy', model: 'recurrent_flow_completion', backend: 'wasm' },
    ...second,
    { event: 'validation', iteration: 8, 'val/epe': 0.25 },
    { event: 'end', iteration: 8, reason: 'finished', time: '2026-01-01T01:01:00Z' },
  ]) + '{"iteration": 9, "lo');
  const samples = path.join(dir, 'samples');
  fs.mkdirSync(samples);
  const png = await encodePng({ width: 8, height: 4, data: new Uint8Array(8 * 4 * 3).fill(200) });
  fs.writeFileSync(path.join(samples, '000008_val-toy.png'), png);
  fs.writeFileSync(path.join(samples, 'samples.jsonl'), lines([
    { iteration: 8, tag: 'val/toy', file: '000008_val-toy.png', phase: 'val' },
    { iteration: 8, tag: 'img/missing', file: '000008_img-missing.png', phase: 'train' },
  ]));
  return dir;
}

test('readRunLog keeps the records after a resume point and skips a cut last line', async () => {
  const run = readRunLog(await fakeRun());
  assert.equal(run.name, 'toy');
  assert.deepEqual(run.steps.map((s) => s.iteration), [1, 2, 3, 4, 5, 6, 7, 8]);
  assert.deepEqual(scalarSeries(run, 'loss/total').y, [9, 8, 7, 6, 1 / 5, 1 / 6, 1 / 7, 1 / 8]);
  // The validation at 6 belonged to the abandoned branch.
  assert.deepEqual(run.validations.map((v) => [v.iteration, v.metrics.epe]), [[4, 0.5], [8, 0.25]]);
  assert.equal(run.segments.length, 2);
  assert.equal(trainingSeconds(run), 4);
  assert.equal(windowMean(run, 'loss/total', 'first', 0.25), 8.5);
  // The sample whose PNG is missing is not listed.
  assert.deepEqual(run.samples.map((s) => s.file), ['000008_val-toy.png']);
});

test('readRunLog names the bad file', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'run-'));
  assert.throws(() => readRunLog(path.join(dir, 'nope')), /nope: no such run folder/);
  assert.throws(() => readRunLog(dir), /log\.jsonl: missing/);
  fs.writeFileSync(path.join(dir, 'log.jsonl'), '{"iteration":1}\nnot json\n{"iteration":2}\n');
  assert.throws(() => readRunLog(dir), (e: Error) => e.message.includes(`${path.join(dir, 'log.jsonl')}:2: not valid JSON`));
});

test('the report embeds plotly once, the curves, summary values and sample images, and renders offline', async () => {
  requireChromium();
  const run = readRunLog(await fakeRun());
  const html = renderRunReport([run], { title: 'toy report', notes: ['step: 1 s'] });
  assert.equal(html.split('data-propainter-plotly-bundle').length - 1, 1);
  assert.ok(html.includes('<title>toy report</title>'));
  assert.ok(html.includes('step: 1 s'));
  assert.ok(html.includes('8.5000 → 0.1339'), 'total loss first → last window means');
  assert.ok(html.includes('0.5000 (it 4) → 0.2500 (it 8)'), 'validation epe first → last');
  assert.ok(html.includes('data:image/png;base64,'), 'sample image embedded');
  assert.ok(html.includes('synthetic motion over the frames of data/davis-sample'));
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'rep-')), 'sub', 'r.html');
  const bytes = writeRunReport(file, [run]);
  assert.equal(fs.statSync(file).size, bytes);
  // losses, adversarial losses, validation epe
  const check = await inspectHtml(file, { minPlots: 3 });
  assertPlotsRendered(check, 3);
  assert.equal(check.imagesLoaded, 1);
});
