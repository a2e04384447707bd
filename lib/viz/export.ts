/**
 * Static figure export (PNG / SVG) for reports, through headless Chromium driven by
 * playwright-core with the system browser (no browser download: `apt-get install chromium`).
 * plotly draws the figure in a blank page and `Plotly.toImage` returns the image.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { pathToFileURL } from 'url';
import { writeFileAtomic } from '../io/atomic';
import { Figure, plotlyBundlePath, withDefaults } from './plotly';

export const CHROMIUM_ENV = 'PROPAINTER_CHROMIUM';
export const CHROMIUM_CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome', '/usr/bin/google-chrome-stable'];
export const CHROMIUM_HINT = 'install it with `apt-get install -y --no-install-recommends chromium` (Debian/Ubuntu), or set PROPAINTER_CHROMIUM to a Chromium/Chrome executable';

/**
 * Flags for a quiet, offline, sandbox-less (root in containers) headless browser: no GPU, no
 * QUIC, no first-run, no background network or component updates, no sync.
 */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
];

/**
 * The few playwright-core calls used here. Its full typings are large and tslab type-checks every
 * file a notebook imports, so referencing them would slow down `import './lib/viz'` by seconds.
 */
export interface ExportPage {
  goto(url: string): Promise<unknown>;
  evaluate<R, A>(fn: (arg: A) => R | Promise<R>, arg: A): Promise<R>;
  evaluate<R>(fn: () => R | Promise<R>): Promise<R>;
}
export interface ExportBrowser {
  newPage(): Promise<ExportPage>;
  close(): Promise<void>;
}
export interface ChromiumLaunchOptions {
  executablePath: string;
  headless: boolean;
  args: string[];
  timeout: number;
}

export class ChromiumMissingError extends Error {
  constructor(detail: string) {
    super(`Chromium not found (${detail}): ${CHROMIUM_HINT}`);
    this.name = 'ChromiumMissingError';
  }
}

/** The browser executable: $PROPAINTER_CHROMIUM, else the first system Chromium/Chrome found. */
export function findChromium(): string {
  const env = process.env[CHROMIUM_ENV];
  if (env) {
    if (!fs.existsSync(env)) throw new ChromiumMissingError(`${CHROMIUM_ENV}=${env} does not exist`);
    return env;
  }
  const found = CHROMIUM_CANDIDATES.find((p) => fs.existsSync(p));
  if (!found) throw new ChromiumMissingError(`looked for ${CHROMIUM_CANDIDATES.join(', ')}`);
  return found;
}

/** Options for playwright-core's `chromium.launch` with the system browser (throws when it is missing). */
export function chromiumLaunchOptions(): ChromiumLaunchOptions {
  return { executablePath: findChromium(), headless: true, args: [...CHROMIUM_ARGS], timeout: 60000 };
}

/** Launches headless Chromium through playwright-core (close it when done). */
export async function launchChromium(): Promise<ExportBrowser> {
  const opts = chromiumLaunchOptions();
  const { chromium } = require('playwright-core') as { chromium: { launch(o: ChromiumLaunchOptions): Promise<ExportBrowser> } };
  try {
    return await chromium.launch(opts);
  } catch (e) {
    throw new Error(`cannot start Chromium (${opts.executablePath}): ${(e as Error).message.split('\n')[0]}`);
  }
}

export type ImageFormat = 'png' | 'svg';

export interface ExportOptions {
  /** From the file extension when writing a file; default png. */
  format?: ImageFormat;
  /** CSS pixels (default layout.width or 800). */
  width?: number;
  /** CSS pixels (default layout.height or 450). */
  height?: number;
  /** Pixel density of PNG output (default 2). */
  scale?: number;
}

/**
 * Exports several figures with one browser:
 *   const ex = await FigureExporter.open(); await ex.save(fig, 'reports/x.png'); await ex.close();
 */
export class FigureExporter {
  private constructor(private readonly browser: ExportBrowser, private readonly page: ExportPage, private readonly dir: string) {}

  static async open(): Promise<FigureExporter> {
    const browser = await launchChromium();
    // The browser reads plotly.js from disk: pushing 4.8 MB through the DevTools protocol
    // (addScriptTag) is slower.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'propainter-export-'));
    try {
      const host = path.join(dir, 'export.html');
      fs.writeFileSync(
        host,
        `<!DOCTYPE html><html><body style="margin:0"><div id="fig"></div>` +
          `<script src="${pathToFileURL(plotlyBundlePath()).href}"></script></body></html>`,
      );
      const page = await browser.newPage();
      await page.goto(pathToFileURL(host).href);
      const ok = await page.evaluate(() => typeof (globalThis as unknown as { Plotly?: unknown }).Plotly === 'object');
      if (!ok) throw new Error(`plotly.js did not load in Chromium from ${plotlyBundlePath()}`);
      return new FigureExporter(browser, page, dir);
    } catch (e) {
      await browser.close();
      fs.rmSync(dir, { recursive: true, force: true });
      throw e;
    }
  }

  /** PNG bytes, or SVG text as UTF-8 bytes. */
  async render(fig: Figure, opts: ExportOptions = {}): Promise<Buffer> {
    const spec = withDefaults(fig, opts.height ?? 450);
    const width = opts.width ?? (Number(spec.layout.width) || 800);
    const height = opts.height ?? (Number(spec.layout.height) || 450);
    const layout = { ...spec.layout, width, height };
    const format = opts.format ?? 'png';
    const url = await this.page.evaluate(
      async ({ data, layout, format, scale }) => {
        // Runs in the page: the browser globals are not in this project's (Node-only) typings.
        const page = globalThis as unknown as {
          Plotly: { newPlot: Function; toImage: Function; purge: Function };
          document: { getElementById(id: string): unknown };
        };
        const P = page.Plotly;
        const el = page.document.getElementById('fig');
        await P.newPlot(el, data, layout, { staticPlot: true });
        const img = (await P.toImage(el, { format, width: layout.width, height: layout.height, scale })) as string;
        P.purge(el);
        return img;
      },
      { data: spec.data, layout, format, scale: opts.scale ?? 2 },
    );
    const comma = url.indexOf(',');
    const head = url.slice(0, comma);
    const body = url.slice(comma + 1);
    return head.endsWith(';base64') ? Buffer.from(body, 'base64') : Buffer.from(decodeURIComponent(body), 'utf8');
  }

  /** Writes the figure to `file` (format from the extension: .png or .svg), atomically. */
  async save(fig: Figure, file: string, opts: ExportOptions = {}): Promise<void> {
    const ext = path.extname(file).toLowerCase();
    const format = opts.format ?? (ext === '.svg' ? 'svg' : ext === '.png' ? 'png' : undefined);
    if (!format) throw new Error(`${file}: unknown image format (use .png or .svg)`);
    writeFileAtomic(file, await this.render(fig, { ...opts, format }));
  }

  async close(): Promise<void> {
    try {
      await this.browser.close();
    } finally {
      fs.rmSync(this.dir, { recursive: true, force: true });
    }
  }
}

/** Exports one figure to `file` (.png or .svg). Starting the browser takes ~2 s; reuse a FigureExporter for many. */
export async function exportFigure(fig: Figure, file: string, opts: ExportOptions = {}): Promise<void> {
  const ex = await FigureExporter.open();
  try {
    await ex.save(fig, file, opts);
  } finally {
    await ex.close();
  }
}
