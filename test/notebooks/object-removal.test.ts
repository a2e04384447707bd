import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { assertPlotsRendered, inspectHtml, requireChromium, requireJupyter, runNotebooks, tempWorkDir } from './helpers';

// CI executes notebook 05 in quick mode (8 frames, --resize_ratio 0.6, 4 RAFT iterations) with
// its outputs in a temporary PROPAINTER_WORK_DIR.
const { work, outDirs } = tempWorkDir('nb05-work-');

test('notebooks/05-object-removal.ipynb: weights said clearly, strips, inline video, timing', { timeout: 900_000 }, async () => {
  requireJupyter();
  requireChromium();
  const r = await runNotebooks(['05-object-removal'], { quick: true });
  outDirs.push(r.outDir);
  assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
  const nb = JSON.parse(fs.readFileSync(path.join(r.outDir, '05-object-removal.ipynb'), 'utf8'));
  const outputs = nb.cells.flatMap((c: { outputs?: Array<{ output_type: string; name?: string; text?: string | string[]; data?: Record<string, string | string[]> }> }) => c.outputs ?? []);
  assert.deepEqual(outputs.filter((o: { output_type: string; name?: string }) => o.output_type === 'error' || o.name === 'stderr'), []);
  const text = outputs.map((o: { text?: string | string[]; data?: Record<string, string | string[]> }) => [o.text ?? o.data?.['text/plain'] ?? ''].flat().join('')).join('\n');
  assert.match(text, /quick mode: true/);
  assert.match(text, /official weights from weights\/|det-init weights \(UNTRAINED\)/);
  assert.match(text, /8 frames processed at 256x144, output 259x144, 2 generator windows/);
  const dir = path.join(work, 'object-removal');
  assert.ok(fs.statSync(path.join(dir, 'compare.mp4')).size > 1000);
  const html = fs.readFileSync(path.join(r.outDir, '05-object-removal.html'), 'utf8');
  assert.match(html, /<video controls loop muted width="518" src="data:video\/mp4;base64,/);
  const check = await inspectHtml(path.join(r.outDir, '05-object-removal.html'), { minPlots: 1 });
  assertPlotsRendered(check, 1);
  assert.ok(check.images >= 2 && check.imagesLoaded === check.images, `images: ${check.imagesLoaded}/${check.images}`);
});
