/**
 * Where rich output goes. Inside a tslab kernel it is sent to the notebook (tslab's display API);
 * in a terminal only a text fallback is printed; tests install a recording backend.
 *
 * A `Bundle` carries one rich representation plus an optional plain-text fallback: tslab's public
 * API sends exactly one mimetype per output, so the notebook gets the richest one.
 */

export interface Bundle {
  html?: string;
  png?: Uint8Array;
  svg?: string;
  markdown?: string;
  /** Printed in a terminal; shown in a notebook only when nothing richer is present. */
  text?: string;
}

/** One output area. From `newOutput()`, later calls replace what the previous call showed. */
export interface Output {
  show(b: Bundle): void;
}

export interface DisplayBackend {
  /** True when output lands in a notebook (rich output is visible). */
  readonly notebook: boolean;
  /** A one-off output: every call adds a new output to the current cell. */
  display(): Output;
  /** An updatable output ("display handle"): each `show` replaces the previous one. */
  newOutput(): Output;
}

/**
 * True inside a tslab kernel process: started through this repository's kernelspec (its launcher
 * sets a global flag), or as `node …/tslab kernel …`. Child processes are never kernels.
 */
export function inTslabKernel(): boolean {
  if ((globalThis as { __propainterTslabKernel?: boolean }).__propainterTslabKernel === true) return true;
  const script = process.argv[1] ?? '';
  return /tslab([\\/]bin[\\/]tslab)?$/.test(script) && process.argv.includes('kernel');
}

interface TslabDisplay {
  html(s: string): void;
  png(b: Uint8Array): void;
  svg(s: string): void;
  markdown(s: string): void;
  text(s: string): void;
}

function sendTo(d: TslabDisplay, b: Bundle): void {
  if (b.html !== undefined) d.html(b.html);
  else if (b.png !== undefined) d.png(b.png);
  else if (b.svg !== undefined) d.svg(b.svg);
  else if (b.markdown !== undefined) d.markdown(b.markdown);
  else if (b.text !== undefined) d.text(b.text);
}

function tslabBackend(): DisplayBackend {
  // Resolved from the kernel's own module cache, so this is the instance the kernel serves.
  const tslab = require('tslab') as { display: TslabDisplay; newDisplay(): TslabDisplay };
  return {
    notebook: true,
    display: () => ({ show: (b) => sendTo(tslab.display, b) }),
    newOutput: () => {
      const d = tslab.newDisplay();
      return { show: (b) => sendTo(d, b) };
    },
  };
}

/** Terminal: text fallbacks go to stdout; rich-only bundles are dropped. */
export const terminalBackend: DisplayBackend = {
  notebook: false,
  display: () => ({
    show: (b) => {
      if (b.text !== undefined) process.stdout.write(b.text.endsWith('\n') ? b.text : b.text + '\n');
    },
  }),
  newOutput: () => terminalBackend.display(),
};

/** What a recording backend saw: `output` numbers the output area (handles keep theirs). */
export interface RecordedOutput {
  output: number;
  handle: boolean;
  bundle: Bundle;
}

/** Collects outputs in memory (tests, or capturing HTML for a report). */
export class RecordingBackend implements DisplayBackend {
  readonly records: RecordedOutput[] = [];
  private next = 0;
  constructor(readonly notebook = true) {}
  display(): Output {
    return { show: (b) => this.records.push({ output: this.next++, handle: false, bundle: b }) };
  }
  newOutput(): Output {
    const id = this.next++;
    return { show: (b) => this.records.push({ output: id, handle: true, bundle: b }) };
  }
  /** The final bundle of every output area, in creation order (what a saved notebook keeps). */
  finalOutputs(): Bundle[] {
    const last = new Map<number, Bundle>();
    for (const r of this.records) last.set(r.output, r.bundle);
    return [...last.entries()].sort((a, b) => a[0] - b[0]).map((e) => e[1]);
  }
}

let override: DisplayBackend | null = null;
let detected: DisplayBackend | null = null;

/** Replaces the automatically chosen backend (null restores it). Returns the previous override. */
export function setDisplayBackend(b: DisplayBackend | null): DisplayBackend | null {
  const prev = override;
  override = b;
  return prev;
}

export function displayBackend(): DisplayBackend {
  if (override) return override;
  detected ??= inTslabKernel() ? tslabBackend() : terminalBackend;
  return detected;
}

/** True when rich output is visible (a notebook, or a recording backend that says so). */
export function inNotebook(): boolean {
  return displayBackend().notebook;
}

/** Shows a bundle as a new output. */
export function show(b: Bundle): void {
  displayBackend().display().show(b);
}

export function showHtml(html: string, text?: string): void {
  show({ html, text });
}

export function showMarkdown(markdown: string): void {
  show({ markdown, text: markdown });
}

/** An updatable output area (a Jupyter display handle in a notebook). */
export function newOutput(): Output {
  return displayBackend().newOutput();
}

/** Escapes text for HTML element content and attribute values. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** JSON that is safe inside an inline <script> (no `</script>`, `<!--`, or JS line separators). */
export function scriptJson(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

let idCounter = 0;
/** An element id unique within the page (random part: several kernels' outputs share a page). */
export function uniqueId(prefix: string): string {
  idCounter += 1;
  return `${prefix}-${Math.random().toString(36).slice(2, 8)}${idCounter.toString(36)}`;
}
