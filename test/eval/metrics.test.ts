import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { psnr, ssim, epe, meanCov, frechetDistance } from '../../lib/eval/metrics';
import { symmetricEigen, matMul, sqrtPsd } from '../../lib/eval/linalg';
import { checkFixtures } from '../../lib/fixtures/check';
import { FIXTURES, seeded } from '../helpers';
import { useBackend } from '../../lib/runtime';

test('metrics fixture (official core/metrics.py values) passes', async () => {
  await useBackend('cpu');
  const lines: string[] = [];
  const s = await checkFixtures([path.join(FIXTURES, 'metrics_synth_72x96.safetensors')], { log: (l) => lines.push(l) });
  assert.equal(s.failed, 0, lines.join('\n'));
  assert.equal(s.passed, 8);
});

test('psnr of identical images is inf; known MSE gives known dB', () => {
  const a = new Float64Array(300).fill(100);
  assert.equal(psnr(a, a), Infinity);
  const b = a.map((v) => v + 5); // MSE 25
  assert.ok(Math.abs(psnr(a, b) - 20 * Math.log10(255 / 5)) < 1e-12);
});

test('ssim is 1 for identical images and rejects small images', () => {
  const img = Float64Array.from(seeded(70 * 80 * 3, 3, 0, 255));
  assert.ok(Math.abs(ssim(img, img, 70, 80, 3) - 1) < 1e-12);
  assert.throws(() => ssim(img.subarray(0, 60 * 60 * 3), img.subarray(0, 60 * 60 * 3), 60, 60, 3), /at least 65/);
});

test('epe of a constant offset', () => {
  const f1 = new Float64Array(8).fill(0);
  const f2 = Float64Array.of(3, 4, 3, 4, 3, 4, 3, 4);
  assert.equal(epe(f1, f2), 5);
});

test('symmetric eigendecomposition reconstructs the matrix', () => {
  const n = 12;
  const r = seeded(n * n, 9);
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) a[i * n + j] = r[i * n + j] + r[j * n + i];
  const { values, vectors } = symmetricEigen({ n, data: a });
  for (let i = 1; i < n; i++) assert.ok(values[i] >= values[i - 1]);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
    let s = 0;
    for (let k = 0; k < n; k++) s += vectors.data[i * n + k] * values[k] * vectors.data[j * n + k];
    assert.ok(Math.abs(s - a[i * n + j]) < 1e-10);
  }
  // sqrt of a PSD matrix squares back.
  const psd = matMul({ n, data: a }, { n, data: a });
  const root = sqrtPsd(psd);
  const back = matMul(root, root);
  for (let i = 0; i < n * n; i++) assert.ok(Math.abs(back.data[i] - psd.data[i]) < 1e-8 * Math.max(1, Math.abs(psd.data[i])));
});

test('frechet distance of a set with itself is 0 and grows with a shifted mean', () => {
  const rows = 20, dims = 4;
  const acts = Float64Array.from(seeded(rows * dims, 5));
  const { mean, cov } = meanCov(acts, rows, dims);
  assert.ok(Math.abs(frechetDistance(mean, cov, mean, cov)) < 1e-10);
  const shifted = mean.map((v) => v + 1);
  assert.ok(Math.abs(frechetDistance(mean, cov, shifted, cov) - dims) < 1e-9);
});
