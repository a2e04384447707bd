/**
 * SIGINT / SIGTERM during a long training step (a step blocks the event loop, so no JavaScript
 * handler runs before it ends): the first signal stops the run at the end of that step with a
 * checkpoint, logged in log.jsonl, and exit code 128 + signal; a second one ends the process at
 * once, in the middle of the step. The process is test/train/signal-program.ts.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { synthRoot, tmpDir } from './helpers';

const PROGRAM = path.join(__dirname, 'signal-program.ts');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(cond: () => boolean, ms: number): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end; await sleep(50)) if (cond()) return true;
  return cond();
}

/** Whether `pid` still has a handler for `sig` (Linux: SigCgt in /proc; elsewhere assumed). */
function catches(pid: number, sig: NodeJS.Signals): boolean {
  let status: string;
  try {
    status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return true;
  }
  const mask = BigInt(`0x${/^SigCgt:\s*([0-9a-f]+)/m.exec(status)![1]}`);
  return ((mask >> BigInt(os.constants.signals[sig] - 1)) & 1n) === 1n;
}

/** Starts the program and waits until its second step blocks; `exited` resolves with how it ended. */
async function blockedRun(tag: string) {
  const root = await synthRoot(32);
  const work = tmpDir(tag);
  const dir = path.join(work, 'run');
  const gate = path.join(work, 'gate');
  const child = spawn(process.execPath, ['--import', 'tsx', PROGRAM, root, dir, gate], { cwd: path.resolve(__dirname, '..', '..') });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  assert.ok(await until(() => fs.existsSync(`${gate}.blocked`) || child.exitCode !== null, 300_000), 'the second step began');
  assert.equal(child.exitCode, null, out);
  return { child, dir, gate, exited, output: () => out };
}

test('one SIGTERM during a long step: the run stops after that step with a checkpoint in log.jsonl, exit code 143', async () => {
  const r = await blockedRun('sigterm');
  r.child.kill('SIGTERM');
  fs.writeFileSync(r.gate, ''); // the step ends (its handler could not run before)
  const { code, signal } = await r.exited;
  assert.deepEqual({ code, signal }, { code: 143, signal: null }, r.output());
  assert.match(r.output(), /SIGTERM: stopping after the current iteration/);
  assert.match(r.output(), /stopped: interrupted at 2/);
  const log = fs.readFileSync(path.join(r.dir, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(log.slice(-3).map((e) => [e.event, e.iteration, e.reason]), [[undefined, 2, undefined], ['checkpoint', 2, undefined], ['end', 2, 'interrupted']]);
  assert.equal(JSON.parse(fs.readFileSync(path.join(r.dir, 'latest.json'), 'utf8')).iteration, 2);
});

test('a second SIGINT during a long step ends the process at once, in the middle of the step', async () => {
  const r = await blockedRun('sigint2');
  r.child.kill('SIGINT');
  // The first one delivered: the kernel restored the default action (no handler for SIGINT any more).
  const reset = await until(() => !catches(r.child.pid!, 'SIGINT'), 10_000);
  r.child.kill('SIGINT');
  let timer: NodeJS.Timeout | undefined;
  const ended = await Promise.race([r.exited, new Promise<null>((resolve) => (timer = setTimeout(resolve, 60_000, null)))]);
  clearTimeout(timer);
  if (!ended) fs.writeFileSync(r.gate, ''); // not ended by the second signal: let the step finish so the test ends
  const { code, signal } = ended ?? (await r.exited);
  assert.ok(reset, 'the first SIGINT reset the handler to the default action');
  assert.deepEqual({ code, signal }, { code: null, signal: 'SIGINT' }, r.output());
  assert.ok(!fs.existsSync(r.gate), 'the step never finished');
  assert.ok(!fs.existsSync(path.join(r.dir, 'latest.json')), 'no checkpoint was written');
});
