/**
 * Exact resume: training N steps equals training k, saving, resuming in a fresh Run and training
 * N−k — same losses, same weights, same optimizer moments (tolerance 1e-6; in practice bit-equal),
 * with the real data loader (its position is restored from the checkpoint).
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { useBackend } from '../../lib/runtime';
import { Run } from '../../lib/train/loop';
import type { StateDict } from '../../lib/io/host-tensor';
import { readSafetensors } from '../../lib/io/safetensors';
import { flowcompConfig, propainterConfig, synthRoot, tmpDir } from './helpers';

function maxDiff(a: StateDict, b: StateDict): number {
  assert.deepEqual([...a.keys()], [...b.keys()]);
  let m = 0;
  for (const [k, t] of a) {
    const u = b.get(k)!;
    const x = t.data as ArrayLike<number>;
    const y = u.data as ArrayLike<number>;
    for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(Number(x[i]) - Number(y[i])));
  }
  return m;
}

async function resumeCase(make: (root: string, dir: string) => Record<string, unknown>, n: number, k: number, size: number) {
  await useBackend('wasm');
  const root = await synthRoot(size);
  const quiet = { console: false, log: () => undefined } as const;
  const a = await Run.create(make(root, tmpDir('resume-a')), quiet);
  const full = (await a.step(n)).map((r) => r.scalars);
  const fullState = a.system.state();
  await a.dispose();

  const dirB = tmpDir('resume-b');
  const b = await Run.create(make(root, dirB), quiet);
  const first = (await b.step(k)).map((r) => r.scalars);
  const statePath = await b.save();
  await b.dispose();
  checkContents(statePath, k, dirB);
  const c = await Run.create(null, { ...quiet, resume: dirB });
  assert.equal(c.iteration, k);
  const rest = (await c.step(n - k)).map((r) => r.scalars);
  const resumed = c.system.state();
  await c.dispose();

  const joined = [...first, ...rest];
  for (let i = 0; i < n; i++) {
    for (const [name, v] of Object.entries(full[i])) {
      assert.ok(Math.abs(joined[i][name] - v) <= 1e-6 * Math.max(1, Math.abs(v)), `step ${i + 1} ${name}: ${joined[i][name]} vs ${v}`);
    }
  }
  const dGen = maxDiff(fullState.gen, resumed.gen);
  assert.ok(dGen <= 1e-6, `generator weights differ by ${dGen}`);
  for (const name of Object.keys(fullState.optimizers)) {
    const d = maxDiff(fullState.optimizers[name], resumed.optimizers[name]);
    assert.ok(d <= 1e-6, `optimizer ${name} state differs by ${d}`);
  }
  if (fullState.dis) {
    const d = maxDiff(fullState.dis, resumed.dis!);
    assert.ok(d <= 1e-6, `discriminator state (incl. spectral-norm u, v) differs by ${d}`);
  }
  return { full, joined, dGen };
}

/** What a checkpoint holds: weights, optimizers, iteration, sampler position, config. */
function checkContents(statePath: string, k: number, dir: string): void {
  const state = JSON.parse(fs.readFileSync(statePath, 'utf8'));
  assert.equal(state.iteration, k);
  assert.deepEqual(state.rng.data, { epoch: Math.floor(k / 3), batch: k % 3 }); // 3 videos, batch 1
  const tag = String(k).padStart(6, '0');
  const files = [`gen_${tag}.safetensors`, `opt_${tag}.safetensors`, 'latest.json', 'config.json'];
  if (state.config.model === 'propainter') files.push(`dis_${tag}.safetensors`);
  for (const f of files) assert.ok(fs.existsSync(path.join(dir, f)), f);
  const opt = readSafetensors(path.join(dir, `opt_${tag}.safetensors`)).tensors;
  const prefixes = new Set([...opt.keys()].map((key) => key.split('.')[0]));
  assert.deepEqual([...prefixes].sort(), state.config.model === 'propainter' ? ['D', 'G'] : ['G']);
}

test('flow completion: 4 steps == 2 steps + save + resume + 2 steps', async () => {
  const r = await resumeCase((root, dir) => flowcompConfig(root, dir), 4, 2, 32);
  console.log(`flow losses ${r.full.map((s) => s['loss/total'].toFixed(6)).join(' ')} | resumed ${r.joined.map((s) => s['loss/total'].toFixed(6)).join(' ')} | max weight diff ${r.dGen}`);
});

// 64×64 is the smallest size the generator trains at (its backward fails at 32×32).
test('ProPainter (G + spectral-norm D, both optimizers): 2 steps == 1 + save + resume + 1', async () => {
  const r = await resumeCase((root, dir) => propainterConfig(root, dir, 64), 2, 1, 64);
  console.log(`gen losses ${r.full.map((s) => s['loss/gen_loss'].toFixed(6)).join(' ')} | resumed ${r.joined.map((s) => s['loss/gen_loss'].toFixed(6)).join(' ')} | max weight diff ${r.dGen}`);
});
