/** How the CLI ends on an error: one `error: …` line, the stack only with --debug. */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { errorText } from '../../lib/cli/main';
import { UserError } from '../../lib/cli/command';

const BIN = path.resolve(__dirname, '..', '..', 'bin', 'propainter.js');

test('errorText: library errors on one line, a UserError list kept, a single-item list joined', () => {
  assert.equal(errorText(new Error('x.pth: bad\n  at byte 4')), 'x.pth: bad at byte 4');
  assert.equal(errorText(new UserError('2 problem(s):\n  a: x\n  b: y')), '2 problem(s):\n  a: x\n  b: y');
  assert.equal(errorText(new UserError('cfg.json: invalid config:\n  train.lr: must be > 0')), 'cfg.json: invalid config: train.lr: must be > 0');
  assert.equal(errorText('thrown string'), 'thrown string');
  assert.equal(errorText(new TypeError('')), 'TypeError');
});

test('a library error from the binary: one line and exit 1; --debug (before or after the command) adds the stack', () => {
  const run = (...args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8' });
  const plain = run('doctor', '--backend', 'foo');
  assert.equal(plain.status, 1);
  assert.equal(plain.stderr, 'error: backend "foo" is not a backend; use one of tensorflow, wasm, cpu\n');
  for (const args of [['--debug', 'doctor', '--backend', 'foo'], ['doctor', '--backend', 'foo', '--debug']]) {
    const debug = run(...args);
    assert.equal(debug.status, 1);
    const lines = debug.stderr.split('\n');
    assert.equal(lines[0], 'error: backend "foo" is not a backend; use one of tensorflow, wasm, cpu');
    assert.match(lines[1], /^Error: backend "foo" is not a backend/);
    assert.match(debug.stderr, /\n {4}at requestedBackend \(.*lib\/runtime\/backend\.ts:\d+:\d+\)/);
  }
  // commander's own errors keep their exit code and usage text
  const unknown = run('doctor', '--nope');
  assert.equal(unknown.status, 1);
  assert.match(unknown.stderr, /^error: unknown option '--nope'/);
  assert.equal(run('--version').status, 0);
});
