/**
 * Evaluation folders in the HTML report: two evaluations of the tiny synthetic dataset (holes
 * filled with grey and with black by a completion test double) compared side by side, rendered
 * offline in headless Chromium; a training run and an evaluation in one report.
 */
import { after, before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { isEvaluationDir, readEvalRun, renderRunReport, writeRunReport } from '../../lib/report';
import { evalDataset, evaluateWith, fillHoles } from '../eval/helpers';
import { assertPlotsRendered, inspectHtml, requireChromium } from '../notebooks/helpers';

let TMP = '';
let GREY = '';
let BLACK = '';

before(async () => {
  TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'pp-evalrep-'));
  const root = await evalDataset(TMP);
  GREY = path.join(TMP, 'grey');
  BLACK = path.join(TMP, 'black');
  await evaluateWith(root, GREY, fillHoles());
  await evaluateWith(root, BLACK, fillHoles([], { value: 0 }));
});
after(() => fs.rmSync(TMP, { recursive: true, force: true }));

test('two evaluation folders: summary, protocol and weights, per-video differences, strips; renders offline', async () => {
  requireChromium();
  assert.ok(isEvaluationDir(GREY) && !isEvaluationDir(TMP));
  const evals = [readEvalRun(GREY), readEvalRun(BLACK)];
  const html = renderRunReport([], { evaluations: evals });
  assert.ok(html.includes('<title>ProPainter-TS evaluation report</title>'));
  const g = evals[0].results;
  const b = evals[1].results;
  // Summary values as the table prints them, and the protocol.
  assert.ok(html.includes(`<span>${g.summary.psnr!.toFixed(2)}</span>`));
  assert.ok(html.includes(`<span>${(g.summary.ewarp! * 1e3).toFixed(3)}</span>`));
  assert.ok(html.includes('neighbor_length 10, ref_stride 10') && html.includes('VFID skipped: test'));
  // Per-video difference of the second folder to the first, signed.
  const v = String(g.per_video[0].video);
  const d = (b.per_video[0].psnr as number) - (g.per_video[0].psnr as number);
  assert.ok(html.includes(`${d > 0 ? '+' : ''}${d.toFixed(2)}</span>`), 'PSNR difference of the first video');
  assert.ok(html.includes(`black − grey`));
  // Best two and worst one of three videos, per folder: six strips.
  assert.equal(html.split('data:image/jpeg;base64,').length - 1, 6);
  assert.ok(html.includes(`${v} · PSNR (dB)`) || g.per_video.some((r) => html.includes(`${r.video} · PSNR (dB)`)));
  const file = path.join(TMP, 'report.html');
  writeRunReport(file, [], { evaluations: evals });
  // Bars per video, metric vs mask area, the difference chart.
  const check = await inspectHtml(file, { minPlots: 3 });
  assertPlotsRendered(check, 3);
  assert.equal(check.imagesLoaded, 6);
});

test('propainter report takes training runs and evaluation folders together', () => {
  const run = path.join(TMP, 'run');
  fs.mkdirSync(run);
  fs.writeFileSync(path.join(run, 'log.jsonl'), JSON.stringify({ event: 'start', iteration: 0, time: '2026-01-01T00:00:00Z', name: 'toy', model: 'propainter' }) + '\n' +
    JSON.stringify({ iteration: 1, epoch: 0, lr: 1e-4, it_per_s: 1, size: [64, 64], 'loss/total': 1 }) + '\n');
  const out = path.join(TMP, 'both.html');
  const r = spawnSync(process.execPath, [path.resolve(__dirname, '..', '..', 'bin', 'propainter.js'), 'report', run, GREY, '-o', out], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /1 training run\(s\), 1 evaluation\(s\)/);
  const html = fs.readFileSync(out, 'utf8');
  assert.ok(html.includes('<title>ProPainter-TS training and evaluation report</title>'));
  assert.ok(html.includes('<h2>Overview</h2>') && html.includes('<h2>Evaluation</h2>'));
  // A folder that is neither names its missing file.
  const bad = spawnSync(process.execPath, [path.resolve(__dirname, '..', '..', 'bin', 'propainter.js'), 'report', TMP, '-o', out], { encoding: 'utf8' });
  assert.equal(bad.status, 1);
  assert.match(bad.stderr.trim(), /^error: .*log\.jsonl: missing — not a training run folder/);
});
