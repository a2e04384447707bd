/**
 * The threaded wasm backend (PROPAINTER_THREADS): started in a child process (the thread count is
 * fixed once wasm is up), it gets the asked-for threads, computes the same bits as one thread (the
 * pack's SIMD module too, on the shared memory) and the process exits by itself (the pool's
 * workers must not keep it alive).
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { requestedThreads, threadShimUnsupported } from '../../lib/runtime/wasm-threads';

const ROOT = path.resolve(__dirname, '..', '..');
const SCRIPT = `
const tf = require('@tensorflow/tfjs-core');
const { initRuntime } = require('./lib/runtime');
initRuntime({ backend: 'wasm' }).then((info) => {
  const x = tf.tensor4d(Float32Array.from({ length: 2 * 20 * 24 * 16 }, (_, i) => Math.sin(i * 0.37)), [2, 20, 24, 16]);
  const w = tf.tensor4d(Float32Array.from({ length: 3 * 3 * 16 * 32 }, (_, i) => Math.cos(i * 0.11)), [3, 3, 16, 32]);
  const a = tf.tensor2d(Float32Array.from({ length: 300 * 64 }, (_, i) => Math.sin(i * 0.05)), [300, 64]);
  const y = tf.conv2d(x, w, 1, 'same');
  const m = tf.matMul(a, a, false, true);
  const h = (t) => Buffer.from(t.dataSync().buffer).toString('base64').slice(0, 64) + ':' + tf.sum(t).dataSync()[0];
  // the pack's own SIMD module on the shared memory: Tanh, Mean, Concat
  const e = tf.concat([tf.tanh(y), tf.mean(y, [1, 2], true).tile([1, 20, 24, 1])], 3);
  console.log(JSON.stringify({ threads: info.threads, note: info.threadsNote ?? null, conv: h(y), mm: h(m), simd: h(e) }));
});
`;

function run(threads: string): { threads: number; note: string | null; conv: string; mm: string; simd: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', '-e', SCRIPT], {
    cwd: ROOT,
    env: { ...process.env, PROPAINTER_THREADS: threads },
    encoding: 'utf8',
    timeout: 60_000,
  });
  assert.equal(r.error, undefined, `child did not exit by itself (PROPAINTER_THREADS=${threads}): ${r.error}`);
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}

test('PROPAINTER_THREADS parsing', () => {
  const saved = process.env.PROPAINTER_THREADS;
  try {
    delete process.env.PROPAINTER_THREADS;
    assert.equal(requestedThreads(), 1);
    process.env.PROPAINTER_THREADS = '3';
    assert.equal(requestedThreads(), 3);
    assert.equal(requestedThreads(2), 2);
    process.env.PROPAINTER_THREADS = 'auto';
    assert.ok(requestedThreads() >= 1);
    process.env.PROPAINTER_THREADS = '0';
    assert.throws(() => requestedThreads(), /PROPAINTER_THREADS=0 is not a thread count/);
  } finally {
    if (saved === undefined) delete process.env.PROPAINTER_THREADS;
    else process.env.PROPAINTER_THREADS = saved;
  }
});

test('two XNNPACK threads: same results as one, and the process exits', () => {
  assert.equal(threadShimUnsupported(), null, 'the pinned tfjs-backend-wasm bundle is what the shim expects');
  const one = run('1');
  const two = run('2');
  assert.equal(one.threads, 1);
  assert.equal(two.threads, 2, two.note ?? '');
  assert.equal(two.conv, one.conv);
  assert.equal(two.mm, one.mm);
  assert.equal(two.simd, one.simd);
});
