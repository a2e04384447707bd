import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { FIXTURES, assertPlotsRendered, inspectHtml, requireChromium, requireJupyter, runNotebooks } from './helpers';

test('a throwing cell stops the run with a non-zero exit and shows the cell and the JS error', { timeout: 180_000 }, async () => {
  requireJupyter();
  const r = await runNotebooks([path.join(FIXTURES, 'failing.ipynb')]);
  try {
    assert.equal(r.status, 1, `exit status\n${r.stdout}\n${r.stderr}`);
    assert.match(r.stderr, /FAILED test\/notebooks\/fixtures\/failing\.ipynb: cell 3 of 4 \(code cell 2\): error/);
    assert.match(r.stderr, /checkFixture\(answer\);/, 'the failing cell source');
    assert.match(r.stderr, /Error: deliberate failure in fixture \(n = 42\)/, 'the JavaScript error');
    assert.match(r.stderr, /\n\s+at checkFixture \(/, 'the stack');
    assert.doesNotMatch(r.stdout + r.stderr, /this cell must not run/);
    // The partial notebook is still written for inspection.
    const nb = JSON.parse(fs.readFileSync(path.join(r.outDir, 'failing.ipynb'), 'utf8'));
    assert.match(JSON.stringify(nb.cells[1].outputs), /before the failure: 42/);
  } finally {
    fs.rmSync(r.outDir, { recursive: true, force: true });
  }
});

test('a missing Jupyter is a clear error naming the install command', async () => {
  const prev = process.env.PROPAINTER_PYTHON;
  process.env.PROPAINTER_PYTHON = '/nonexistent/python3';
  try {
    const r = await runNotebooks([path.join(FIXTURES, 'failing.ipynb')]);
    fs.rmSync(r.outDir, { recursive: true, force: true });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /Jupyter's notebook executor \(nbclient\/nbconvert\) is not installed for \/nonexistent\/python3/);
    assert.match(r.stderr, /apt-get install -y --no-install-recommends jupyter-nbconvert jupyter-client/);
  } finally {
    if (prev === undefined) delete process.env.PROPAINTER_PYTHON;
    else process.env.PROPAINTER_PYTHON = prev;
  }
});

test('unknown notebook names are a usage error', async () => {
  const r = await runNotebooks(['no-such-notebook-xyz']);
  fs.rmSync(r.outDir, { recursive: true, force: true });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /no notebook in notebooks\/ matches "no-such-notebook-xyz"/);
});

test('viz outputs render in the exported HTML: plots drawn, table, images, final progress', { timeout: 300_000 }, async () => {
  requireJupyter();
  requireChromium();
  const r = await runNotebooks([path.join(FIXTURES, 'viz-smoke.ipynb')], { quick: true });
  try {
    assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
    const html = path.join(r.outDir, 'viz-smoke.html');
    const text = fs.readFileSync(html, 'utf8');
    assert.equal(text.split('data-propainter-plotly-bundle').length - 1, 1, 'bundle once per page');
    assert.doesNotMatch(text, /<script[^>]+src=/, 'no external scripts');
    assert.match(text, /quick mode: true/);
    const check = await inspectHtml(html, { minPlots: 3, screenshot: process.env.PROPAINTER_SCREENSHOT });
    assertPlotsRendered(check, 3);
    assert.equal(check.plots[1].traces, 4, 'live curves: 2 raw + 2 smoothed series');
    assert.equal(check.tables, 1);
    assert.equal(check.images, 4);
    assert.equal(check.imagesLoaded, 4);
    assert.deepEqual(check.progress, [{ value: 60, max: 60 }]);
  } finally {
    fs.rmSync(r.outDir, { recursive: true, force: true });
  }
});
