import { test, afterEach } from 'node:test';
import * as assert from 'node:assert/strict';
import { RecordingBackend, setDisplayBackend, scriptJson, escapeHtml, inTslabKernel } from '../../lib/viz/display';
import { BUNDLE_MARKER, FIGURE_MARKER, FigureView, figureHtml, plotlyBundle, resetPlotlySetup, setupPlotly, showFigure } from '../../lib/viz/plotly';
import { LiveCurves, ema, frameMetricsFigure, lineFigure } from '../../lib/viz/charts';
import { progress, track, progressHtml } from '../../lib/viz/progress';
import { showTable } from '../../lib/viz/table';
import { isQuick, quick } from '../../lib/viz/env';

afterEach(() => {
  setDisplayBackend(null);
  resetPlotlySetup();
});

test('not a tslab kernel here; script JSON cannot close its <script>', () => {
  assert.equal(inTslabKernel(), false);
  const s = scriptJson({ a: '</script><!--\u2028' });
  assert.doesNotMatch(s, /<\/script|<!--|\u2028/);
  assert.deepEqual(JSON.parse(s), { a: '</script><!--\u2028' });
  assert.equal(escapeHtml(`<a href="x">'&'</a>`), '&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
});

test('plotly bundle is embedded once per session, before the first figure', () => {
  const rec = new RecordingBackend();
  setDisplayBackend(rec);
  showFigure(lineFigure({ loss: [3, 2, 1] }, { title: 'loss' }));
  showFigure(lineFigure({ psnr: [20, 25] }));
  const html = rec.finalOutputs().map((b) => b.html ?? '');
  assert.equal(html.length, 3);
  assert.ok(html[0].startsWith(`<script ${BUNDLE_MARKER}>`));
  assert.ok(html[0].length > 1_000_000, 'the whole plotly.js bundle is inlined');
  assert.doesNotMatch(plotlyBundle(), /<\/script/i);
  for (const h of html.slice(1)) {
    assert.match(h, new RegExp(`<div id="pp-plot-[a-z0-9]+" class="propainter-plot" ${FIGURE_MARKER}`));
    assert.match(h, /window\.Plotly\.newPlot/);
    assert.doesNotMatch(h, /cdn|https?:/i);
  }
  setupPlotly({ force: true });
  assert.equal(rec.finalOutputs().length, 4);
});

test('figure HTML carries the figure JSON', () => {
  const h = figureHtml({ data: [{ type: 'bar', x: ['a'], y: [1] }], layout: { title: { text: 'T</script>' } } }, { id: 'fig1' });
  const json = /var spec=(\{.*?\}),id=/.exec(h)![1];
  const spec = JSON.parse(json);
  assert.deepEqual(spec.data, [{ type: 'bar', x: ['a'], y: [1] }]);
  assert.equal(spec.layout.title.text, 'T</script>');
  assert.equal(spec.config.displaylogo, false);
  assert.match(h, /id="fig1"/);
});

test('in a terminal figures are not drawn and tables print as text', () => {
  const rec = new RecordingBackend(false);
  setDisplayBackend(rec);
  setupPlotly();
  assert.equal(rec.records.length, 0);
  showTable([{ a: 1 }]);
  assert.match(rec.records[0].bundle.text!, /\|a\|/);
});

test('LiveCurves redraws one display handle, throttled, and flush draws the final values', () => {
  const rec = new RecordingBackend();
  setDisplayBackend(rec);
  const c = new LiveCurves({ title: 'losses', minIntervalMs: 60_000, smoothing: 0.5 });
  for (let i = 0; i < 20; i++) c.push(i, { l1: 1 / (i + 1), adv: 0.5 });
  const handleRecords = rec.records.filter((r) => r.handle);
  assert.equal(handleRecords.length, 1, 'only the first push draws within the interval');
  c.flush();
  const finals = rec.finalOutputs();
  assert.equal(finals.length, 2, 'bundle + one figure output');
  const spec = JSON.parse(/var spec=(\{.*?\}),id=/.exec(finals[1].html!)![1]);
  assert.equal(spec.data.length, 4);
  assert.equal(spec.data[0].y.length, 20);
  assert.equal(spec.data[0].y[19], 1 / 20);
  assert.equal(c.series.get('adv')!.x.length, 20);
  assert.deepEqual(ema([1, 1, 1], 0.9).map((v) => +v.toFixed(12)), [1, 1, 1]);
  assert.deepEqual(ema([0, 2], 0.5), [0, 4 / 3]);
});

test('FigureView keeps one output area', () => {
  const rec = new RecordingBackend();
  setDisplayBackend(rec);
  const v = new FigureView({ minIntervalMs: 0 });
  v.update(lineFigure({ a: [1] }));
  v.update(lineFigure({ a: [1, 2] }));
  assert.equal(new Set(rec.records.filter((r) => r.handle).map((r) => r.output)).size, 1);
});

test('frameMetricsFigure stacks one subplot per metric', () => {
  const f = frameMetricsFigure({ PSNR: [30, 31, 29], SSIM: { clipA: [0.9, 0.91, 0.92], clipB: [0.8, 0.82, 0.81] } });
  assert.equal(f.data.length, 3);
  assert.deepEqual(f.data.map((t) => t.yaxis), ['y', 'y2', 'y2']);
  assert.deepEqual((f.layout!.grid as { rows: number }).rows, 2);
  assert.deepEqual(f.data[0].x, [0, 1, 2]);
});

test('progress in a notebook: one handle, throttled, final state kept', () => {
  const rec = new RecordingBackend();
  setDisplayBackend(rec);
  const p = progress(100, { label: 'resize', minIntervalMs: 60_000 });
  for (let i = 0; i < 99; i++) p.tick(1, `item ${i}`);
  assert.equal(rec.records.length, 1, 'initial render only; updates are throttled');
  p.tick();
  p.done('finished');
  const finals = rec.finalOutputs();
  assert.equal(finals.length, 1);
  assert.match(finals[0].html!, /<progress value="100" max="100"/);
  assert.match(finals[0].html!, /100\/100 \(100%\)/);
  assert.match(finals[0].html!, /finished/);
  assert.match(progressHtml(p, true), /resize/);
});

test('progress in logs: plain lines; track iterates and finishes on break', () => {
  const lines: string[] = [];
  const stream = { write: (s: string) => (lines.push(s), true), isTTY: false } as unknown as NodeJS.WritableStream;
  const seen: number[] = [];
  for (const x of track([1, 2, 3, 4], { label: 'items', stream, logIntervalMs: 60_000 })) {
    seen.push(x);
    if (x === 3) break;
  }
  assert.deepEqual(seen, [1, 2, 3]);
  assert.equal(lines.length, 1);
  assert.match(lines[0], /^items 2\/4 50% /);
});

test('quick mode follows PROPAINTER_QUICK', () => {
  const prev = process.env.PROPAINTER_QUICK;
  process.env.PROPAINTER_QUICK = '1';
  assert.equal(isQuick(), true);
  assert.equal(quick(100, 3), 3);
  process.env.PROPAINTER_QUICK = '0';
  assert.equal(quick(100, 3), 100);
  if (prev === undefined) delete process.env.PROPAINTER_QUICK;
  else process.env.PROPAINTER_QUICK = prev;
});
