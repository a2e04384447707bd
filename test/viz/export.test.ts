import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { FigureExporter, findChromium, ChromiumMissingError } from '../../lib/viz/export';
import { frameMetricsFigure, lineFigure } from '../../lib/viz/charts';

// Chromium is a CI requirement for these tests: a missing browser fails with the install hint.
function requireChromium(): void {
  try {
    findChromium();
  } catch (e) {
    assert.fail((e as Error).message);
  }
}

test('a missing Chromium is reported with the install command', () => {
  const prev = process.env.PROPAINTER_CHROMIUM;
  process.env.PROPAINTER_CHROMIUM = '/nonexistent/chromium';
  try {
    assert.throws(() => findChromium(), (e: Error) => e instanceof ChromiumMissingError && /apt-get install -y --no-install-recommends chromium/.test(e.message));
  } finally {
    if (prev === undefined) delete process.env.PROPAINTER_CHROMIUM;
    else process.env.PROPAINTER_CHROMIUM = prev;
  }
});

test('figures export to PNG and SVG through headless Chromium', { timeout: 120_000 }, async () => {
  requireChromium();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'viz-export-'));
  const ex = await FigureExporter.open();
  try {
    const fig = lineFigure({ loss: [1, 0.5, 0.3, 0.2], val: [1.2, 0.7, 0.5, 0.45] }, { title: 'loss', logY: true });
    const png = path.join(dir, 'loss.png');
    await ex.save(fig, png, { width: 400, height: 300, scale: 1 });
    const sharp = require('sharp') as typeof import('sharp').default;
    const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
    assert.equal(info.width, 400);
    assert.equal(info.height, 300);
    // Not blank: the two line colours are present.
    let blue = 0;
    let orange = 0;
    for (let i = 0; i < data.length; i += info.channels) {
      const [r, g, b] = [data[i], data[i + 1], data[i + 2]];
      if (Math.abs(r - 0x1f) < 30 && Math.abs(g - 0x77) < 30 && Math.abs(b - 0xb4) < 30) blue++;
      if (Math.abs(r - 0xff) < 20 && Math.abs(g - 0x7f) < 30 && b < 60) orange++;
    }
    assert.ok(blue > 100 && orange > 100, `line pixels: blue ${blue}, orange ${orange}`);

    const svgFile = path.join(dir, 'metrics.svg');
    await ex.save(frameMetricsFigure({ PSNR: [30, 31, 29], SSIM: [0.9, 0.92, 0.91] }), svgFile);
    const svg = fs.readFileSync(svgFile, 'utf8');
    assert.match(svg, /^<svg[^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    assert.equal((svg.match(/class="scatterlayer/g) ?? []).length, 2, 'one scatter layer per subplot');
    assert.match(svg, /PSNR/);
    await assert.rejects(ex.save(fig, path.join(dir, 'x.gif')), /unknown image format/);
  } finally {
    await ex.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
