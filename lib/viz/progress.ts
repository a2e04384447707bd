/**
 * Progress display that fits where the code runs:
 *   - notebook: one HTML <progress> output updated in place (a display handle), throttled, so the
 *     saved notebook keeps only the final state;
 *   - terminal (TTY): a cli-progress bar on stderr;
 *   - neither (CI logs, pipes): a plain line every few seconds and at the end.
 */
import { Output, escapeHtml, inNotebook, newOutput } from './display';

export type ProgressMode = 'auto' | 'notebook' | 'terminal' | 'log' | 'silent';

export interface ProgressOptions {
  label?: string;
  /** Minimum ms between notebook redraws (default 200). */
  minIntervalMs?: number;
  /** Minimum ms between plain log lines (default 5000). */
  logIntervalMs?: number;
  mode?: ProgressMode;
  /** Stream for terminal/log output (default process.stderr). */
  stream?: NodeJS.WritableStream & { isTTY?: boolean };
}

export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '–';
  const s = Math.round(ms / 1000);
  if (s < 60) return `${(ms / 1000).toFixed(ms < 10000 ? 1 : 0)}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

interface Sink {
  render(p: Progress, final: boolean): void;
}

/** The state shared by all sinks. */
export class Progress {
  value = 0;
  info = '';
  readonly start = Date.now();
  private lastRender = -Infinity;
  private finished = false;
  private readonly sink: Sink;

  constructor(readonly total: number, readonly opts: ProgressOptions = {}) {
    this.sink = makeSink(this, opts);
    this.sink.render(this, false);
    this.lastRender = Date.now();
  }

  get label(): string {
    return this.opts.label ?? 'progress';
  }

  get elapsedMs(): number {
    return Date.now() - this.start;
  }

  /** Remaining time from the average rate so far (NaN before the first step). */
  get etaMs(): number {
    if (this.value <= 0 || this.total <= 0) return NaN;
    return (this.elapsedMs / this.value) * Math.max(0, this.total - this.value);
  }

  get fraction(): number {
    return this.total > 0 ? Math.min(1, this.value / this.total) : 0;
  }

  /** Advances by `n`; `info` is a short status text (e.g. "loss 0.123"). */
  tick(n = 1, info?: string): void {
    this.update(this.value + n, info);
  }

  update(value: number, info?: string): void {
    if (this.finished) return;
    this.value = value;
    if (info !== undefined) this.info = info;
    const now = Date.now();
    const interval = this.opts.minIntervalMs ?? 200;
    if (now - this.lastRender >= interval || value >= this.total) {
      this.lastRender = now;
      this.sink.render(this, false);
    }
  }

  /** Final state (call once, also after an early stop). */
  done(info?: string): void {
    if (this.finished) return;
    if (info !== undefined) this.info = info;
    this.finished = true;
    this.sink.render(this, true);
  }

  /** One line: "label 12/40 30% 1.2s<2.8s info". */
  summary(): string {
    const pct = (this.fraction * 100).toFixed(0);
    const eta = this.value >= this.total ? '' : `<${formatDuration(this.etaMs)}`;
    return `${this.label} ${this.value}/${this.total} ${pct}% ${formatDuration(this.elapsedMs)}${eta}${this.info ? ` ${this.info}` : ''}`;
  }
}

function resolveMode(opts: ProgressOptions): ProgressMode {
  if (opts.mode && opts.mode !== 'auto') return opts.mode;
  if (inNotebook()) return 'notebook';
  const stream = opts.stream ?? process.stderr;
  return (stream as { isTTY?: boolean }).isTTY ? 'terminal' : 'log';
}

function makeSink(p: Progress, opts: ProgressOptions): Sink {
  const mode = resolveMode(opts);
  if (mode === 'silent') return { render: () => undefined };
  if (mode === 'notebook') return notebookSink();
  if (mode === 'terminal') return terminalSink(p, opts);
  return logSink(opts);
}

/** The HTML a notebook shows for a progress state. */
export function progressHtml(p: Progress, final: boolean): string {
  const pct = (p.fraction * 100).toFixed(0);
  const time = final || p.value >= p.total ? formatDuration(p.elapsedMs) : `${formatDuration(p.elapsedMs)} · ETA ${formatDuration(p.etaMs)}`;
  return (
    `<div class="propainter-progress" style="font:12px/1.6 -apple-system,Helvetica,Arial,sans-serif;display:flex;gap:8px;align-items:center">` +
    `<span style="min-width:90px">${escapeHtml(p.label)}</span>` +
    `<progress value="${p.value}" max="${p.total}" style="width:240px"></progress>` +
    `<span>${p.value}/${p.total} (${pct}%) · ${time}${p.info ? ` · ${escapeHtml(p.info)}` : ''}</span></div>`
  );
}

function notebookSink(): Sink {
  let out: Output | null = null;
  return {
    render(p, final) {
      out ??= newOutput();
      out.show({ html: progressHtml(p, final), text: p.summary() });
    },
  };
}

function terminalSink(p: Progress, opts: ProgressOptions): Sink {
  const cliProgress = require('cli-progress') as typeof import('cli-progress');
  const bar = new cliProgress.SingleBar(
    {
      format: `${p.label.replace(/[{}]/g, '')} [{bar}] {percentage}% | {value}/{total} | {duration_formatted} ETA {eta_formatted} {info}`,
      stream: (opts.stream ?? process.stderr) as NodeJS.WritableStream,
      hideCursor: true,
      etaBuffer: 50,
      fps: 10,
    },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    render(q, final) {
      if (!started) {
        bar.start(q.total, q.value, { info: q.info });
        started = true;
      } else {
        bar.update(q.value, { info: q.info });
      }
      if (final) bar.stop();
    },
  };
}

function logSink(opts: ProgressOptions): Sink {
  const stream = opts.stream ?? process.stderr;
  let last = -Infinity;
  let printed: { value: number; info: string } | null = null;
  return {
    render(p, final) {
      const now = Date.now();
      if (!final && (p.value === 0 || now - last < (opts.logIntervalMs ?? 5000))) return;
      // done() right after the last step would repeat the line just printed.
      if (final && printed && printed.value === p.value && printed.info === p.info) return;
      last = now;
      printed = { value: p.value, info: p.info };
      stream.write(`${p.summary()}\n`);
    },
  };
}

/** A progress display for `total` steps. */
export function progress(total: number, opts: ProgressOptions = {}): Progress {
  return new Progress(total, opts);
}

/**
 * Adapter for library callbacks of the form `(done, total, item?) => void` (lib/data's
 * onProgress): the display appears on the first call. Call `finish()` after the work.
 */
export function progressCallback(opts: ProgressOptions = {}): ((done: number, total: number, info?: string) => void) & { finish(info?: string): void } {
  let p: Progress | null = null;
  const cb = (done: number, total: number, info?: string) => {
    p ??= progress(total, opts);
    p.update(done, info);
  };
  return Object.assign(cb, { finish: (info?: string) => p?.done(info) });
}

/**
 * Iterates `items` with a progress display: `for (const f of track(files, { label: 'resize' }))`.
 * The display is finished when the loop ends, breaks or throws.
 */
export function* track<T>(items: Iterable<T> & { length?: number }, opts: ProgressOptions & { total?: number } = {}): Generator<T> {
  const list = opts.total === undefined && items.length === undefined ? [...items] : items;
  const total = opts.total ?? (list as { length?: number }).length ?? 0;
  const p = progress(total, opts);
  try {
    for (const item of list) {
      yield item;
      p.tick();
    }
  } finally {
    p.done();
  }
}

/** `track` for async iterables and arrays of promises-producing work. */
export async function* trackAsync<T>(items: AsyncIterable<T> | Iterable<T>, total: number, opts: ProgressOptions = {}): AsyncGenerator<T> {
  const p = progress(total, opts);
  try {
    for await (const item of items) {
      yield item;
      p.tick();
    }
  } finally {
    p.done();
  }
}
