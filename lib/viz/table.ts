/**
 * Tables with arquero, rendered as HTML in notebooks and as text in terminals.
 *
 * arquero 8 is ESM-only; it is loaded with `require(esm)` (Node ≥ 20.19), synchronously, so the
 * helpers stay synchronous. Notebooks get the same module instance through `aq()`.
 */
import { escapeHtml, show } from './display';

export type Arquero = typeof import('arquero');
export type ArqueroTable = ReturnType<Arquero['from']>;
export type Row = Record<string, unknown>;

let mod: Arquero | null = null;

/** The arquero module (verbs: `aq().from(rows).groupby('video').rollup({...})`, `aq().op`, …). */
export function aq(): Arquero {
  if (!mod) {
    try {
      mod = require('arquero') as Arquero;
    } catch (e) {
      const err = e as Error & { code?: string };
      if (err.code === 'ERR_REQUIRE_ESM') {
        throw new Error(`arquero is ESM-only and needs require(esm): Node >= 20.19 (this is ${process.version})`);
      }
      throw e;
    }
  }
  return mod;
}

/** Accepted table inputs: an arquero table, row objects, or columns by name. */
export type TableInput = ArqueroTable | ReadonlyArray<Row> | Record<string, ArrayLike<unknown>>;

function isTable(x: unknown): x is ArqueroTable {
  return typeof x === 'object' && x !== null && typeof (x as ArqueroTable).toHTML === 'function' && typeof (x as ArqueroTable).numRows === 'function';
}

/** Makes an arquero table from any TableInput (tables pass through). */
export function toTable(x: TableInput): ArqueroTable {
  if (isTable(x)) return x;
  if (Array.isArray(x)) return aq().from(x as Row[]);
  const cols: Record<string, unknown[]> = {};
  for (const [k, v] of Object.entries(x as Record<string, ArrayLike<unknown>>)) cols[k] = Array.from(v);
  return aq().table(cols);
}

export interface TableOptions {
  caption?: string;
  /** Rows shown (default 50; a note says how many were left out). */
  limit?: number;
  /** Maximum fractional digits of numbers (default 4). */
  digits?: number;
}

const STYLE = {
  table: 'border-collapse:collapse;font:12px/1.4 -apple-system,Helvetica,Arial,sans-serif;margin:4px 0',
  thead: 'border-bottom:2px solid #999',
  th: 'padding:3px 10px;background:#f2f2f4;font-weight:600',
  td: 'padding:2px 10px;border-bottom:1px solid #e4e4e8;font-variant-numeric:tabular-nums',
};

/** HTML for a table (arquero's toHTML with compact styling, a caption and a row-count note). */
export function tableHtml(x: TableInput, opts: TableOptions = {}): string {
  const t = toTable(x);
  const limit = opts.limit ?? 50;
  const body = t.toHTML({ limit, maxdigits: opts.digits ?? 4, style: STYLE, null: () => '<span style="color:#aaa">–</span>' });
  const n = t.numRows();
  const caption = opts.caption ? `<div style="font:600 13px sans-serif;margin:6px 0 2px">${escapeHtml(opts.caption)}</div>` : '';
  const more = n > limit ? `<div style="font:11px sans-serif;color:#777">${limit} of ${n} rows shown</div>` : '';
  return `<div class="propainter-table">${caption}${body}${more}</div>`;
}

/** Plain-text rendering for terminals (Markdown pipe table). */
export function tableText(x: TableInput, opts: TableOptions = {}): string {
  const t = toTable(x);
  const limit = opts.limit ?? 50;
  const md = t.toMarkdown({ limit, maxdigits: opts.digits ?? 4 });
  const n = t.numRows();
  return `${opts.caption ? `${opts.caption}\n` : ''}${md}${n > limit ? `(${limit} of ${n} rows shown)\n` : ''}`;
}

/** Shows a table inline (HTML in a notebook, Markdown text in a terminal). */
export function showTable(x: TableInput, opts: TableOptions = {}): void {
  const t = toTable(x);
  show({ html: tableHtml(t, opts), text: tableText(t, opts) });
}
