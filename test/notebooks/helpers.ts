/**
 * Notebook test utilities: run notebooks through `scripts/notebooks.mjs` (the same path as
 * `npm run notebooks`) and inspect the exported HTML in headless Chromium.
 *
 * Jupyter and Chromium are CI requirements: when missing, tests fail with a message naming the
 * tool and the install command (they do not skip).
 */
import { after } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromiumLaunchOptions, findChromium } from '../../lib/viz/export';

export const ROOT = path.resolve(__dirname, '..', '..');
export const FIXTURES = path.join(__dirname, 'fixtures');

/**
 * A temporary PROPAINTER_WORK_DIR for the notebooks of one test file; after the file's tests the
 * variable is restored and the folder, the executed notebooks' out dirs (push them to `outDirs`)
 * and `extra` folders are removed.
 */
export function tempWorkDir(prefix: string, extra: string[] = []): { work: string; outDirs: string[] } {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  const prev = process.env.PROPAINTER_WORK_DIR;
  process.env.PROPAINTER_WORK_DIR = work;
  const outDirs: string[] = [];
  after(() => {
    if (prev === undefined) delete process.env.PROPAINTER_WORK_DIR;
    else process.env.PROPAINTER_WORK_DIR = prev;
    for (const d of [work, ...outDirs, ...extra]) fs.rmSync(d, { recursive: true, force: true });
  });
  return { work, outDirs };
}

/** Fails the test unless Debian's Jupyter executor (nbclient + nbconvert) is installed. */
export function requireJupyter(): void {
  const py = process.env.PROPAINTER_PYTHON ?? '/usr/bin/python3';
  const r = fs.existsSync(py) ? spawnSync(py, ['-c', 'import nbclient, nbconvert, nbformat, jupyter_client'], { encoding: 'utf8' }) : null;
  if (!r || r.status !== 0) {
    assert.fail(
      `Jupyter (nbclient/nbconvert for ${py}) is not installed; notebook tests need it: ` +
        'apt-get install -y --no-install-recommends jupyter-nbconvert jupyter-client',
    );
  }
}

/** Fails the test unless a Chromium executable is available (message has the install hint). */
export function requireChromium(): void {
  try {
    findChromium();
  } catch (e) {
    assert.fail((e as Error).message);
  }
}

export interface RunResult {
  status: number | null;
  stdout: string;
  stderr: string;
  outDir: string;
}

/** Runs `node scripts/notebooks.mjs [--quick] --out-dir <tmp> ...notebooks` (async: tests keep running timers). */
export function runNotebooks(notebooks: string[], opts: { quick?: boolean; outDir?: string } = {}): Promise<RunResult> {
  const outDir = opts.outDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'nb-run-'));
  const args = [path.join(ROOT, 'scripts', 'notebooks.mjs'), '--out-dir', outDir, ...(opts.quick ? ['--quick'] : []), ...notebooks];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: ROOT, env: { ...process.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr, outDir }));
  });
}

export interface PlotCheck {
  /** [data-propainter-plot] containers on the page. */
  containers: number;
  /** Per container: drawn size of its .main-svg and the number of traces with drawn geometry. */
  plots: Array<{ width: number; height: number; traces: number; drawnPaths: number }>;
  /** plotly.js bundles inlined in the page. */
  bundles: number;
  /** Elements with the text plotly shows when it was not loaded. */
  notLoaded: number;
  /** <img> elements and how many decoded with a non-zero size. */
  images: number;
  imagesLoaded: number;
  tables: number;
  progress: Array<{ value: number; max: number }>;
}

const INSPECT_PAGE = `(() => {
  const all = (root, s) => Array.from(root.querySelectorAll(s));
  const plots = all(document, '[data-propainter-plot]').map((c) => {
    const svg = c.querySelector('.main-svg');
    const r = svg ? svg.getBoundingClientRect() : { width: 0, height: 0 };
    const drawn = all(c, '.trace path, .trace rect').filter((p) => {
      const d = p.getAttribute('d');
      const b = p.getBoundingClientRect();
      return d ? d.length > 4 && d !== 'M0,0Z' && (b.width > 0 || b.height > 0) : b.width > 0 && b.height > 0;
    });
    return { width: r.width, height: r.height, traces: all(c, '.trace').length, drawnPaths: drawn.length };
  });
  return {
    containers: plots.length,
    plots,
    bundles: all(document, 'script[data-propainter-plotly-bundle]').length,
    notLoaded: all(document, '[data-propainter-plot]').filter((c) => (c.textContent || '').includes('plotly.js is not loaded')).length,
    images: all(document, 'img').length,
    imagesLoaded: all(document, 'img').filter((i) => i.complete && i.naturalWidth > 0).length,
    tables: all(document, '.propainter-table table').length,
    progress: all(document, 'progress').map((p) => ({ value: Number(p.value), max: Number(p.max) })),
  };
})()`;

/** Opens an exported notebook HTML page in headless Chromium and reports what was rendered. */
export async function inspectHtml(htmlFile: string, opts: { screenshot?: string; minPlots?: number } = {}): Promise<PlotCheck> {
  const { chromium } = require('playwright-core') as typeof import('playwright-core');
  const browser = await chromium.launch(chromiumLaunchOptions());
  try {
    const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
    // Offline by construction: any network request would be a CDN or external script.
    const external: string[] = [];
    page.on('request', (req) => {
      if (!req.url().startsWith('file:') && !req.url().startsWith('data:')) external.push(req.url());
    });
    await page.goto(pathToFileURL(htmlFile).href, { waitUntil: 'load', timeout: 90_000 });
    const minPlots = opts.minPlots ?? 1;
    await page.waitForFunction(
      (n) => {
        const d = (globalThis as unknown as { document: { querySelectorAll(s: string): { length: number } } }).document;
        return d.querySelectorAll('[data-propainter-plot] .main-svg').length >= n;
      },
      minPlots,
      { timeout: 60_000 },
    );
    // A string, not a function: tsx (esbuild keepNames) would insert `__name(...)` helper calls
    // that do not exist in the page.
    const check = (await page.evaluate(INSPECT_PAGE)) as PlotCheck;
    if (opts.screenshot) await page.screenshot({ path: opts.screenshot, fullPage: true });
    assert.deepEqual(external, [], `the page requested external resources: ${external.join(', ')}`);
    return check;
  } finally {
    await browser.close();
  }
}

/** Asserts every plot container drew an SVG of non-zero size with at least one drawn trace. */
export function assertPlotsRendered(check: PlotCheck, minPlots: number): void {
  assert.equal(check.bundles, 1, 'plotly.js is inlined exactly once');
  assert.ok(check.containers >= minPlots, `expected >= ${minPlots} plots, found ${check.containers}`);
  assert.equal(check.notLoaded, 0, 'some plots report that plotly.js was not loaded');
  check.plots.forEach((p, i) => {
    assert.ok(p.width > 100 && p.height > 100, `plot ${i}: .main-svg is ${p.width}x${p.height}`);
    assert.ok(p.traces > 0 && p.drawnPaths > 0, `plot ${i} is blank: ${p.traces} traces, ${p.drawnPaths} drawn paths`);
  });
}
