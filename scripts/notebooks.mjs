#!/usr/bin/env node
// Executes the workbook headlessly with Jupyter's executor (scripts/run_notebooks.py, nbclient)
// and writes the executed .ipynb and a self-contained .html per notebook to reports/notebooks/.
//
//   npm run notebooks                         every notebooks/*.ipynb
//   npm run notebooks -- 01 --quick           notebooks whose name starts with 01, quick mode
//   npm run notebooks -- path/to/x.ipynb      any notebook file
//
// Options: --quick (PROPAINTER_QUICK=1: small sizes, few iterations), --out-dir DIR,
// --timeout SECONDS (per cell), --no-html. Exit status: 0 ok, 1 a cell failed, 2 setup problem.
//
// Committed notebooks carry no outputs (docs/notebooks.md):
//   npm run notebooks -- --clear [NAME...]        strip outputs in place (no Jupyter needed)
//   npm run notebooks -- --check-clean [NAME...]  exit 1 naming notebooks that have outputs
import { existsSync, readFileSync, readdirSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { basename, delimiter, join, resolve } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const notebooksDir = join(root, 'notebooks');
const INSTALL = 'apt-get install -y --no-install-recommends jupyter-nbconvert jupyter-client';

function usage(code) {
  console.log(`usage: npm run notebooks -- [--quick] [--out-dir DIR] [--timeout S] [--no-html] [NAME|FILE.ipynb ...]
       npm run notebooks -- --clear | --check-clean [NAME|FILE.ipynb ...]
  NAME matches notebooks/NAME.ipynb, or every notebook whose name starts with NAME.
  Available: ${listNotebooks().map((f) => basename(f, '.ipynb')).join(', ') || '(none)'}`);
  process.exit(code);
}

function listNotebooks() {
  if (!existsSync(notebooksDir)) return [];
  return readdirSync(notebooksDir)
    .filter((f) => f.endsWith('.ipynb') && !f.startsWith('.'))
    .sort()
    .map((f) => join(notebooksDir, f));
}

function parseArgs(argv) {
  const opts = { quick: false, outDir: join(root, 'reports', 'notebooks'), timeout: null, html: true, names: [], clear: false, checkClean: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) {
        console.error(`error: ${a} needs a value`);
        process.exit(2);
      }
      return argv[++i];
    };
    if (a === '--quick') opts.quick = true;
    else if (a === '--out-dir') opts.outDir = resolve(value());
    else if (a === '--timeout') opts.timeout = value();
    else if (a === '--no-html') opts.html = false;
    else if (a === '--clear') opts.clear = true;
    else if (a === '--check-clean') opts.checkClean = true;
    else if (a === '-h' || a === '--help') usage(0);
    else if (a.startsWith('-')) {
      console.error(`error: unknown option ${a}`);
      usage(2);
    } else opts.names.push(a);
  }
  return opts;
}

function resolveNotebooks(names) {
  const all = listNotebooks();
  if (names.length === 0) return all;
  const out = [];
  for (const name of names) {
    if (name.endsWith('.ipynb') || name.includes('/')) {
      const p = resolve(name);
      if (!existsSync(p) || !statSync(p).isFile()) {
        console.error(`error: notebook not found: ${name}`);
        process.exit(2);
      }
      out.push(p);
      continue;
    }
    const exact = all.filter((f) => basename(f, '.ipynb') === name);
    const matches = exact.length ? exact : all.filter((f) => basename(f).startsWith(name));
    if (matches.length === 0) {
      console.error(`error: no notebook in notebooks/ matches "${name}"`);
      usage(2);
    }
    out.push(...matches);
  }
  return [...new Set(out)];
}

/** Debian's python3: a pyenv/venv python3 earlier on PATH usually cannot see Debian's Jupyter. */
function findPython() {
  // An explicit PROPAINTER_PYTHON is the only candidate (no silent fallback).
  const candidates = process.env.PROPAINTER_PYTHON ? [process.env.PROPAINTER_PYTHON] : ['/usr/bin/python3'];
  for (const py of candidates) {
    if (!existsSync(py)) continue;
    const r = spawnSync(py, ['-c', 'import nbclient, nbconvert, nbformat, jupyter_client'], { encoding: 'utf8' });
    if (r.status === 0) return py;
  }
  console.error(
    `error: Jupyter's notebook executor (nbclient/nbconvert) is not installed for ${candidates.join(' or ')}.\n` +
      `  Debian/Ubuntu: ${INSTALL}\n` +
      `  Elsewhere: a Python with nbclient+nbconvert, selected with PROPAINTER_PYTHON=/path/to/python3`,
  );
  process.exit(2);
}

/** Keys sorted at every level, as nbformat writes them (indent 1, trailing newline). */
function sortKeys(v) {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === 'object') return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sortKeys(v[k])]));
  return v;
}

/** The notebook text without outputs, execution counts or per-cell execution timing. */
function clearedText(text, file) {
  let nb;
  try {
    nb = JSON.parse(text);
  } catch (e) {
    console.error(`error: ${file}: invalid notebook JSON (${e.message})`);
    process.exit(2);
  }
  for (const cell of nb.cells ?? []) {
    if (cell.cell_type !== 'code') continue;
    cell.outputs = [];
    cell.execution_count = null;
    if (cell.metadata) delete cell.metadata.execution;
  }
  return JSON.stringify(sortKeys(nb), null, 1) + '\n';
}

const opts = parseArgs(process.argv.slice(2));
const notebooks = resolveNotebooks(opts.names);
if (notebooks.length === 0) {
  console.error('error: no notebooks found');
  process.exit(2);
}
if (opts.clear || opts.checkClean) {
  const dirty = [];
  for (const file of notebooks) {
    const text = readFileSync(file, 'utf8');
    const clean = clearedText(text, file);
    if (clean === text) continue;
    dirty.push(file);
    if (opts.clear) {
      writeFileSync(`${file}.tmp`, clean);
      renameSync(`${file}.tmp`, file);
      console.log(`cleared ${file}`);
    }
  }
  if (opts.checkClean && dirty.length) {
    console.error(`notebooks with outputs (commit them cleared: npm run notebooks -- --clear):\n  ${dirty.join('\n  ')}`);
    process.exit(1);
  }
  if (!dirty.length) console.log(`${notebooks.length} notebook(s) clean`);
  process.exit(0);
}
const python = findPython();
const env = {
  ...process.env,
  // The committed kernelspec (jupyter/kernels/tslab) starts the kernel in the repository root.
  JUPYTER_PATH: [join(root, 'jupyter'), process.env.JUPYTER_PATH].filter(Boolean).join(delimiter),
  // The kernel runs on this same Node (require(esm) for arquero needs >= 20.19).
  PROPAINTER_NODE: process.execPath,
};
if (opts.quick) env.PROPAINTER_QUICK = '1';
const args = [join(root, 'scripts', 'run_notebooks.py'), '--out-dir', opts.outDir];
if (opts.timeout !== null) args.push('--timeout', String(opts.timeout));
if (!opts.html) args.push('--no-html');
args.push(...notebooks);
console.log(`running ${notebooks.length} notebook(s)${env.PROPAINTER_QUICK === '1' ? ' in quick mode' : ''} → ${opts.outDir}`);
const r = spawnSync(python, args, { cwd: root, env, stdio: 'inherit' });
if (r.error) {
  console.error(`error: cannot run ${python}: ${r.error.message}`);
  process.exit(2);
}
process.exit(r.status ?? 1);
