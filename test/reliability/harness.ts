/**
 * Hostile-input rows for the CLI. Each row builds its inputs in a fresh sandbox folder and runs
 * one command in-process through `lib/cli/main.ts` (what bin/propainter.js calls; the binary
 * itself is checked by test/cli/main.test.ts), with the sandbox as working directory. Every row
 * asserts:
 *   - a non-zero exit code,
 *   - exactly one line on stderr, `error: …`, matching the row's pattern (which names the file
 *     or field at fault),
 *   - nothing created, changed or removed in the sandbox outside the row's output folder, and
 *     nothing new beside the sandbox (where `../` names would land).
 * To cover a new command or defect, add a row to a file in ./rows (one file per command).
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export const ROOT = path.resolve(__dirname, '..', '..');

export interface Sandbox {
  /** Absolute sandbox folder (the working directory of the command). */
  dir: string;
  /** Absolute path of a sandbox-relative path. */
  at(...parts: string[]): string;
  /** Writes a file (creating folders); returns its absolute path. */
  write(rel: string, content: string | Uint8Array): string;
  /** Creates a folder; returns its absolute path. */
  mkdir(rel: string): string;
  /** Runs `fn` after the row (unmounts, permissions). */
  onCleanup(fn: () => void): void;
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface HostileRow {
  /** The command under test (first word after `propainter`). */
  command: string;
  /** What is hostile about the input. */
  name: string;
  /** Builds the inputs; returns the arguments after `propainter`. */
  args(s: Sandbox): string[] | Promise<string[]>;
  /** Pattern for the text after `error: ` (name the file or field). */
  error(s: Sandbox): RegExp;
  /** Sandbox-relative folder the command may write into (default: none). */
  output?: string;
  /** Why this machine cannot run the row (checked before setup), or undefined. */
  unavailable?(): string | undefined;
  /** Further checks after the common ones. */
  check?(s: Sandbox): void;
}

type Writer = typeof process.stderr.write;

/**
 * Runs the CLI in this process with `cwd` as working directory, capturing console output and
 * stderr (stdout itself is left alone: the test runner reports through it).
 */
export async function runCli(args: string[], cwd: string): Promise<CliResult> {
  const { main } = require('../../lib/cli/main') as typeof import('../../lib/cli/main');
  const out: string[] = [];
  const err: string[] = [];
  const saved = { log: console.log, info: console.info, warn: console.warn, error: console.error, write: process.stderr.write };
  const fmt = (a: unknown[]) => a.map((x) => (typeof x === 'string' ? x : String(x))).join(' ') + '\n';
  console.log = (...a: unknown[]) => void out.push(fmt(a));
  console.info = console.log;
  console.warn = (...a: unknown[]) => void err.push(fmt(a));
  console.error = console.warn;
  process.stderr.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    err.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
    const cb = rest.find((r) => typeof r === 'function') as (() => void) | undefined;
    cb?.();
    return true;
  }) as Writer;
  const prevCwd = process.cwd();
  const prevCode = process.exitCode;
  process.exitCode = undefined;
  process.chdir(cwd);
  try {
    await main(['node', 'propainter', ...args]);
  } finally {
    process.chdir(prevCwd);
    Object.assign(console, { log: saved.log, info: saved.info, warn: saved.warn, error: saved.error });
    process.stderr.write = saved.write;
  }
  const code = Number(process.exitCode ?? 0);
  process.exitCode = prevCode;
  return { code, stdout: out.join(''), stderr: err.join('') };
}

/** Every entry under `dir` (not following links) → kind, size and content hash. */
export function snapshot(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string) => {
    for (const n of fs.readdirSync(d).sort()) {
      const p = path.join(d, n);
      const st = fs.lstatSync(p);
      const rel = path.relative(dir, p);
      if (st.isSymbolicLink()) out.set(rel, `link ${fs.readlinkSync(p)}`);
      else if (st.isDirectory()) {
        out.set(rel, 'dir');
        walk(p);
      } else out.set(rel, `file ${st.size} ${createHash('sha1').update(fs.readFileSync(p)).digest('hex')}`);
    }
  };
  walk(dir);
  return out;
}

function changedOutside(before: Map<string, string>, after: Map<string, string>, output?: string): string[] {
  const allowed = (rel: string) => output !== undefined && (rel === output || rel.startsWith(output + path.sep));
  const changed: string[] = [];
  for (const [k, v] of after) if (before.get(k) !== v && !allowed(k)) changed.push(before.has(k) ? `changed ${k}` : `created ${k}`);
  for (const k of before.keys()) if (!after.has(k) && !allowed(k)) changed.push(`removed ${k}`);
  return changed;
}

// ---------------------------------------------------------------------------------------------
// What the machine allows: read-only folders and full disks need a small tmpfs when running as
// root (root writes through permission bits).

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
let mountProbe: string | undefined | null = null;

/** Why tmpfs mounts are impossible here, or undefined when they work. */
export function mountUnavailable(): string | undefined {
  if (mountProbe !== null) return mountProbe;
  if (!isRoot) return (mountProbe = 'mounting a tmpfs needs root; this process is not root');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pp-mount-probe-'));
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', dir], { encoding: 'utf8' });
  if (r.status === 0) spawnSync('umount', [dir]);
  fs.rmdirSync(dir);
  mountProbe = r.status === 0 ? undefined : `mount -t tmpfs is not allowed here (${(r.stderr || String(r.error)).trim()})`;
  return mountProbe;
}

/** Why a read-only folder cannot be made here, or undefined. */
export function readOnlyUnavailable(): string | undefined {
  return isRoot ? mountUnavailable() : undefined;
}

function mountTmpfs(s: Sandbox, rel: string, options: string): string {
  const dir = s.mkdir(rel);
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', dir], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`mount tmpfs at ${dir}: ${r.stderr}`);
  s.onCleanup(() => {
    spawnSync('umount', [dir]);
  });
  return dir;
}

/**
 * A folder nobody can write into, with what `populate` put there first: chmod -R a-w, or (as
 * root) a tmpfs remounted read-only.
 */
export async function readOnlyDir(s: Sandbox, rel: string, populate?: (dir: string) => unknown): Promise<string> {
  const dir = isRoot ? mountTmpfs(s, rel, 'size=1m') : s.mkdir(rel);
  await populate?.(dir);
  if (isRoot) {
    const r = spawnSync('mount', ['-o', 'remount,ro', dir], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`remount ${dir} read-only: ${r.stderr}`);
  } else {
    const dirs = [...snapshot(dir)].filter(([, v]) => v === 'dir').map(([k]) => path.join(dir, k));
    for (const d of [dir, ...dirs]) {
      fs.chmodSync(d, 0o555);
      s.onCleanup(() => fs.chmodSync(d, 0o755));
    }
  }
  return dir;
}

/** A folder on a 64 KiB tmpfs that is already full. */
export function fullDir(s: Sandbox, rel: string): string {
  const dir = mountTmpfs(s, rel, 'size=64k');
  const fd = fs.openSync(path.join(dir, 'filler'), 'w');
  try {
    const block = Buffer.alloc(4096, 1);
    for (;;) fs.writeSync(fd, block);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
  } finally {
    fs.closeSync(fd);
  }
  return dir;
}

// ---------------------------------------------------------------------------------------------

let counter = 0;

function makeSandbox(parent: string): { s: Sandbox; cleanup(): void } {
  const dir = path.join(parent, `row-${String(++counter).padStart(3, '0')}`);
  fs.mkdirSync(dir, { recursive: true });
  const cleanups: Array<() => void> = [];
  const s: Sandbox = {
    dir,
    at: (...parts) => path.join(dir, ...parts),
    write(rel, content) {
      const p = path.join(dir, rel);
      fs.mkdirSync(path.dirname(p), { recursive: true });
      fs.writeFileSync(p, content);
      return p;
    },
    mkdir(rel) {
      const p = path.join(dir, rel);
      fs.mkdirSync(p, { recursive: true });
      return p;
    },
    onCleanup: (fn) => void cleanups.push(fn),
  };
  return {
    s,
    cleanup() {
      for (const fn of cleanups.reverse()) fn();
    },
  };
}

/** Registers one node:test test per row, each in its own sandbox under a temporary folder. */
export function hostileRows(rows: HostileRow[]): void {
  const parent = fs.mkdtempSync(path.join(os.tmpdir(), 'pp-hostile-'));
  process.on('exit', () => fs.rmSync(parent, { recursive: true, force: true }));
  for (const row of rows) {
    test(`${row.command}: ${row.name}`, async (t) => {
      const reason = row.unavailable?.();
      if (reason) {
        t.skip(reason);
        return;
      }
      const { s, cleanup } = makeSandbox(parent);
      try {
        const args = await row.args(s);
        const siblings = fs.readdirSync(parent).sort();
        const before = snapshot(s.dir);
        const r = await runCli(args, s.dir);
        const shown = `propainter ${args.join(' ')}\n--- stderr\n${r.stderr}--- stdout\n${r.stdout}`;
        assert.notEqual(r.code, 0, `exit code 0\n${shown}`);
        const lines = r.stderr.split('\n').filter((l) => l.trim().length > 0);
        assert.equal(lines.length, 1, `one line on stderr\n${shown}`);
        assert.match(lines[0], /^error: /, shown);
        assert.match(lines[0].slice('error: '.length), row.error(s), shown);
        assert.deepEqual(changedOutside(before, snapshot(s.dir), row.output), [], `files touched outside ${row.output ?? 'the sandbox'}\n${shown}`);
        assert.deepEqual(fs.readdirSync(parent).sort(), siblings, `nothing written beside the sandbox\n${shown}`);
        row.check?.(s);
      } finally {
        cleanup();
      }
    });
  }
}

/** A RegExp matching `text` literally. */
export function lit(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
