import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { assertPlotsRendered, inspectHtml, requireChromium, requireJupyter, runNotebooks } from './helpers';

// CI executes the data-preparation notebook in quick mode; its generated data goes to a temporary
// PROPAINTER_WORK_DIR, the executed copy and HTML to a temporary out dir.
test('notebooks/01-data-preparation.ipynb runs in quick mode and its HTML shows the figures', { timeout: 600_000 }, async () => {
  requireJupyter();
  requireChromium();
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'nb-work-'));
  const prev = process.env.PROPAINTER_WORK_DIR;
  process.env.PROPAINTER_WORK_DIR = work;
  let outDir: string | undefined;
  try {
    const r = await runNotebooks(['01-data-preparation'], { quick: true });
    outDir = r.outDir;
    assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);

    const nb = JSON.parse(fs.readFileSync(path.join(r.outDir, '01-data-preparation.ipynb'), 'utf8'));
    const outputs = nb.cells.flatMap((c: { outputs?: Array<{ output_type: string; name?: string; text?: string | string[] }> }) => c.outputs ?? []);
    const stderr = outputs.filter((o: { output_type: string; name?: string }) => o.output_type === 'error' || o.name === 'stderr');
    assert.deepEqual(stderr, [], 'no cell wrote to stderr');
    const text = outputs.map((o: { text?: string | string[] }) => [o.text ?? ''].flat().join('')).join('');
    assert.match(text, /quick mode: true/);

    // What the notebook built, in the temporary work folder.
    const prep = path.join(work, 'data-preparation');
    assert.deepEqual(JSON.parse(fs.readFileSync(path.join(prep, 'davis-small', 'train.json'), 'utf8')), { 'bmx-trees': 80 });
    assert.equal(fs.readdirSync(path.join(prep, 'davis-small', 'JPEGImages_108_60', 'bmx-trees')).length, 80);
    assert.equal(fs.readdirSync(path.join(prep, 'davis-small', 'test_masks', 'bmx-trees')).length, 80);
    assert.ok(fs.readdirSync(path.join(prep, 'synth', 'flows', 'synth_0000')).some((f) => f.endsWith('_f.flo')));

    const html = path.join(r.outDir, '01-data-preparation.html');
    const check = await inspectHtml(html, { minPlots: 6 });
    assertPlotsRendered(check, 6);
    assert.ok(check.tables >= 8, `tables: ${check.tables}`);
    assert.ok(check.images >= 6 && check.imagesLoaded === check.images, `images: ${check.imagesLoaded}/${check.images}`);
    assert.ok(check.progress.length >= 4);
    for (const p of check.progress) assert.equal(p.value, p.max, 'progress bars end full');
  } finally {
    if (prev === undefined) delete process.env.PROPAINTER_WORK_DIR;
    else process.env.PROPAINTER_WORK_DIR = prev;
    fs.rmSync(work, { recursive: true, force: true });
    if (outDir) fs.rmSync(outDir, { recursive: true, force: true });
  }
});
