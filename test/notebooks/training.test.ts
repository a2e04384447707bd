import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { assertPlotsRendered, inspectHtml, requireChromium, requireJupyter, ROOT, runNotebooks, tempWorkDir } from './helpers';
import { readRunLog } from '../../lib/report';

// CI executes the two training notebooks in quick mode, 02 before 03 (03 freezes the network 02
// trains; alone it trains a 2-iteration one itself). Their run folders are the notebooks' own,
// experiments/nb_flowcomp and experiments/nb_propainter (each notebook deletes its folder first);
// the report goes to a temporary PROPAINTER_WORK_DIR, the executed copies and HTML to a temporary
// out dir. The run folders are removed afterwards (a ProPainter checkpoint is ~0.5 GB).
const FLOW_DIR = path.join(ROOT, 'experiments', 'nb_flowcomp');
const PP_DIR = path.join(ROOT, 'experiments', 'nb_propainter');
const { work, outDirs } = tempWorkDir('nb-work-', [FLOW_DIR, PP_DIR]);

interface Output {
  output_type: string;
  name?: string;
  text?: string | string[];
  data?: Record<string, string | string[]>;
}

/** The readable text of an output: a stream, or a display's HTML without scripts and tags. */
function outputText(o: Output): string {
  if (o.text !== undefined) return [o.text].flat().join('');
  const html = [o.data?.['text/html'] ?? ''].flat().join('');
  return html.replace(/<script[\s\S]*?<\/script>/g, '').replace(/<[^>]+>/g, ' ');
}

/** Executes one notebook in quick mode; returns its outputs' text and the HTML page. */
async function execute(name: string): Promise<{ text: string; html: string }> {
  const r = await runNotebooks([name], { quick: true });
  outDirs.push(r.outDir);
  assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
  const nb = JSON.parse(fs.readFileSync(path.join(r.outDir, `${name}.ipynb`), 'utf8'));
  const outputs: Output[] = nb.cells.flatMap((c: { outputs?: Output[] }) => c.outputs ?? []);
  assert.deepEqual(outputs.filter((o) => o.output_type === 'error' || o.name === 'stderr'), [], 'no cell wrote to stderr');
  const text = outputs.map(outputText).join('\n');
  assert.match(text, /quick mode: true/);
  return { text, html: path.join(r.outDir, `${name}.html`) };
}

const exists = (dir: string, f: string) => fs.existsSync(path.join(dir, f));

test('notebooks/02-flow-completion-training.ipynb: steps, lr change, validation, save, resume', { timeout: 600_000 }, async () => {
  requireJupyter();
  requireChromium();
  const { text, html } = await execute('02-flow-completion-training');

  // Quick mode: 6 iterations at the config's lr, 3 at a fifth of it, save at 9, resume, 3 more.
  const lr0 = JSON.parse(fs.readFileSync(path.join(ROOT, 'configs', 'quick_flowcomp.json'), 'utf8')).train.lr as number;
  const log = readRunLog(FLOW_DIR);
  assert.deepEqual(log.steps.map((s) => s.iteration), Array.from({ length: 12 }, (_, i) => i + 1), 'history = the steps taken');
  assert.deepEqual(log.steps.map((s) => s.lr), [...Array(6).fill(lr0), ...Array(6).fill(lr0 / 5)], 'lr changed after step 6 and the change survived the resume');
  for (const s of log.steps) for (const k of ['loss/flow_loss', 'loss/warp_loss', 'loss/edge_loss']) assert.ok(Number.isFinite(s.scalars[k]), `${k} at ${s.iteration}`);
  // Two sessions: the resumed one starts at the checkpoint's iteration.
  assert.deepEqual(log.segments.map((s) => [s.startIteration, s.endIteration, s.reason]), [[0, 9, 'disposed'], [9, 12, 'disposed']]);
  assert.match(text, /resumed at iteration 9 with lr /);
  assert.deepEqual(log.checkpoints.map((c) => c.iteration), [9, 12]);
  for (const f of ['gen_000009.safetensors', 'opt_000009.safetensors', 'state_000009.json', 'gen_000012.safetensors', 'state_000012.json']) assert.ok(exists(FLOW_DIR, f), f);
  assert.equal(JSON.parse(fs.readFileSync(path.join(FLOW_DIR, 'latest.json'), 'utf8')).iteration, 12);
  const state12 = JSON.parse(fs.readFileSync(path.join(FLOW_DIR, 'state_000012.json'), 'utf8'));
  assert.equal(state12.iteration, 12);
  assert.equal(state12.config.train.lr, lr0 / 5, 'the checkpoint carries the changed lr');
  // Validation (EPE) at 9; training images every 3 steps, the held-out image with the validation.
  assert.equal(log.validations.length, 1);
  assert.equal(log.validations[0].iteration, 9);
  assert.ok(log.validations[0].metrics.epe >= 0 && Number.isFinite(log.validations[0].metrics.epe), `EPE ${log.validations[0].metrics.epe}`);
  assert.deepEqual([...new Set(log.samples.filter((s) => s.phase === 'train').map((s) => s.iteration))], [3, 6, 9, 12]);
  assert.deepEqual(log.samples.filter((s) => s.phase === 'val').map((s) => s.iteration), [9]);
  assert.match(text, new RegExp(`validation at iteration 9: mean EPE ${log.validations[0].metrics.epe.toFixed(3)} px`.replace(/\./g, '\\.')));

  // live losses, lr, live losses after the resume, losses + lr from log.jsonl
  const check = await inspectHtml(html, { minPlots: 5 });
  assertPlotsRendered(check, 5);
  assert.ok(check.tables >= 8, `tables: ${check.tables}`);
  assert.ok(check.images >= 4 && check.imagesLoaded === check.images, `images: ${check.imagesLoaded}/${check.images}`);
});

test('notebooks/03-propainter-training.ipynb: frozen flow net, G/D losses, PSNR/SSIM, samples, report', { timeout: 600_000 }, async () => {
  requireJupyter();
  requireChromium();
  const flowFrom02 = fs.existsSync(path.join(FLOW_DIR, 'latest.json'));
  const { text, html } = await execute('03-propainter-training');

  const log = readRunLog(PP_DIR);
  assert.equal(log.model, 'propainter');
  assert.equal(log.config.networks.flow_completion, 'experiments/nb_flowcomp');
  if (flowFrom02) assert.match(text, /flow completion \(frozen\): weights from experiments\/nb_flowcomp\/gen_000012\.safetensors/);
  assert.deepEqual(log.steps.map((s) => s.iteration), [1, 2, 3]);
  for (const s of log.steps) for (const k of ['loss/gen_loss', 'loss/hole_loss', 'loss/valid_loss', 'loss/gan_loss', 'loss/dis_loss']) assert.ok(Number.isFinite(s.scalars[k]), `${k} at ${s.iteration}`);
  assert.deepEqual(log.checkpoints.map((c) => c.iteration), [3]);
  for (const f of ['gen_000003.safetensors', 'dis_000003.safetensors', 'opt_000003.safetensors', 'state_000003.json']) assert.ok(exists(PP_DIR, f), f);
  assert.equal(log.validations.length, 1);
  const { psnr, ssim } = log.validations[0].metrics;
  assert.ok(psnr > 5 && psnr < 100, `PSNR ${psnr}`);
  assert.ok(ssim > 0 && ssim <= 1, `SSIM ${ssim}`);
  assert.match(text, /validation at iteration 3: PSNR /);
  assert.deepEqual(log.samples.map((s) => [s.phase, s.iteration]).sort(), [['train', 3], ['val', 3]]);
  assert.match(log.samples.find((s) => s.phase === 'val')!.tag, /masked-result-gt/);

  // The standalone report: plotly inlined (it opens offline) and both runs in it.
  const report = path.join(work, 'propainter-training', 'training-report.html');
  const reportHtml = fs.readFileSync(report, 'utf8');
  assert.ok(reportHtml.length > 3_000_000, `report size ${reportHtml.length}`);
  for (const name of ['nb_flowcomp', 'nb_propainter']) assert.ok(reportHtml.includes(`id="${name}"`), name);

  // 2 live plots + the report's figures (losses, adversarial, other values, lr of each run), its
  // sample images, and still a single plotly.js bundle on the page.
  const check = await inspectHtml(html, { minPlots: 6 });
  assertPlotsRendered(check, 6);
  assert.ok(check.images >= 5 && check.imagesLoaded === check.images, `images: ${check.imagesLoaded}/${check.images}`);
  assert.ok(check.tables >= 4, `tables: ${check.tables}`);
});
