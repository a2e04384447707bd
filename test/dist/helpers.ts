/** Running jobs in the distributed tests: a child process with its output, bounded in time. */
import { spawn } from 'node:child_process';
import * as path from 'node:path';

export const ROOT = path.resolve(__dirname, '..', '..');
export const NODE = [process.execPath, '--import', 'tsx'];
export const BIN = path.join(ROOT, 'bin', 'propainter.js');
/** Liveness bound only (no job here takes more than seconds): a hang fails instead of blocking CI. */
const HANG_MS = 90_000;

export interface Run {
  code: number | null;
  out: string;
  err: string;
}

/** Runs `cmd` from the project root; `onOut` / `onErr` see the output so far (e.g. to signal the process). */
export function run(
  cmd: readonly string[],
  opts: { env?: NodeJS.ProcessEnv; hangMs?: number; onOut?: (text: string, child: ReturnType<typeof spawn>) => void; onErr?: (text: string, child: ReturnType<typeof spawn>) => void } = {},
): Promise<Run> {
  const hangMs = opts.hangMs ?? HANG_MS;
  return new Promise((resolve, reject) => {
    const child = spawn(cmd[0], cmd.slice(1), { cwd: ROOT, env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${cmd.join(' ')} did not end within ${hangMs / 1000} s\n${out}\n${err}`));
    }, hangMs);
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      opts.onOut?.(out, child);
    });
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
      opts.onErr?.(err, child);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out, err });
    });
  });
}

export const lastLine = (s: string) => s.trim().split('\n').at(-1) ?? '';
