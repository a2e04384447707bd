import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { assertPlotsRendered, inspectHtml, requireChromium, requireJupyter, ROOT, runNotebooks, tempWorkDir } from './helpers';
import { DET_INIT_WEIGHTS, readResultsFile } from '../../lib/eval/results';

// CI executes notebook 04 in quick mode (3 clips of 6 frames at 216×128, 2 RAFT iterations) with
// its outputs in a temporary PROPAINTER_WORK_DIR. Without a run of notebook 03 or npm start it
// trains a 2-iteration ProPainter into experiments/nb_eval_propainter, removed afterwards.
const RUN_DIR = path.join(ROOT, 'experiments', 'nb_eval_propainter');
const { work, outDirs } = tempWorkDir('nb04-work-', [RUN_DIR]);

test('notebooks/04-evaluation.ipynb: two checkpoints labelled, per-video tables, plots, strips, the report inline', { timeout: 1_200_000 }, async () => {
  requireJupyter();
  requireChromium();
  const r = await runNotebooks(['04-evaluation'], { quick: true });
  outDirs.push(r.outDir);
  assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
  const nb = JSON.parse(fs.readFileSync(path.join(r.outDir, '04-evaluation.ipynb'), 'utf8'));
  const outputs = nb.cells.flatMap((c: { outputs?: Array<{ output_type: string; name?: string; text?: string | string[]; data?: Record<string, string | string[]> }> }) => c.outputs ?? []);
  assert.deepEqual(outputs.filter((o: { output_type: string; name?: string }) => o.output_type === 'error' || o.name === 'stderr'), []);
  const text = outputs.map((o: { text?: string | string[]; data?: Record<string, string | string[]> }) => [o.text ?? o.data?.['text/plain'] ?? o.data?.['text/html'] ?? ''].flat().join('')).join('\n');
  assert.match(text, /quick mode: true/);
  assert.match(text, /3 videos \(bmx-a, bmx-b, bmx-c\), evaluated at 216x128/);

  // Both evaluations are complete, over the same 3 videos of 6 frames; the first checkpoint is
  // labelled for what it is, the second is det-init.
  const dir = path.join(work, 'evaluation');
  const official = fs.existsSync(path.join(dir, 'official'));
  const folders = [path.join(dir, official ? 'official' : 'quick-trained'), path.join(dir, 'det-init')];
  assert.match(text, official ? /official weights:/ : /quick-trained \([^)]+\): (trained by notebook 03|trained by npm start|trained here for 2 iterations)/);
  assert.match(text, /det-init \(untrained\): PSNR \d+\.\d\d dB/);
  const results = folders.map((f) => readResultsFile(f));
  for (const res of results) {
    assert.ok(res.complete);
    assert.deepEqual(res.per_video.map((v) => [v.video, v.frames]), [['bmx-a', 6], ['bmx-b', 6], ['bmx-c', 6]]);
    for (const v of res.per_video) assert.ok(Number.isFinite(v.psnr) && Number.isFinite(v.ssim) && Number.isFinite(v.ewarp), JSON.stringify(v));
    assert.ok(res.summary.vfid !== null && Number.isFinite(res.summary.vfid), 'VFID over 3 videos');
  }
  assert.equal(results[1].weights.generator.sha256, DET_INIT_WEIGHTS.sha256, 'the baseline is det-init');
  if (!official) assert.notEqual(results[0].weights.generator.sha256, DET_INIT_WEIGHTS.sha256, 'the first checkpoint is a trained file');

  // The HTML: per-frame PSNR, the difference bars and the report's charts; strips as images.
  const html = path.join(r.outDir, '04-evaluation.html');
  const check = await inspectHtml(html, { minPlots: 2 });
  assertPlotsRendered(check, 2);
  assert.ok(check.images >= 7 && check.imagesLoaded === check.images, `images: ${check.imagesLoaded}/${check.images}`);
});
