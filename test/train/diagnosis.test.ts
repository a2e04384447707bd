/**
 * The guide's model diagnosis, `analyze --config CONFIG --checkpoint CKPT`: the configured network
 * loaded with a checkpoint's weights, per-module weight statistics equal to those computed from the
 * file, and for training checkpoints (ours or an official set) the iteration and Adam state.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { useBackend } from '../../lib/runtime';
import { applyDetInit } from '../../lib/init/apply';
import { writePth } from '../../lib/io/pth';
import { PyDict } from '../../lib/io/pickle';
import { readSafetensors } from '../../lib/io/safetensors';
import type { HostTensor, StateDict } from '../../lib/io/host-tensor';
import { RecurrentFlowCompleteNet } from '../../lib/models/flow-completion';
import { resolveConfig } from '../../lib/train/config';
import { Run } from '../../lib/train/loop';
import { CheckpointDiagnosis, diagnoseCheckpoint } from '../../lib/train/diagnosis';
import { flowcompConfig, synthRoot, tmpDir } from './helpers';

const BIN = path.resolve(__dirname, '..', '..', 'bin', 'propainter.js');

/** L2 norm over the tensors of `sd` whose key starts with `prefix.` (a module's parameters). */
function l2(sd: StateDict, prefix: string, scale = 1): number {
  let s = 0;
  for (const [k, t] of sd) if (k.startsWith(`${prefix}.`)) for (const v of t.data as Float32Array) s += (scale * v) ** 2;
  return Math.sqrt(s);
}

const close = (a: number, b: number) => Math.abs(a - b) <= 1e-4 * Math.max(1, Math.abs(b));

test('analyze --config --checkpoint on a run folder: parameters, per-module weight statistics, iteration and optimizer state', async () => {
  await useBackend('wasm');
  const root = await synthRoot(16, 3, 8);
  const dir = tmpDir('diag-run');
  const run = await Run.create(flowcompConfig(root, dir, 16), { console: false, log: () => undefined });
  await run.step(2);
  await run.save();
  await run.dispose();
  const r = spawnSync(process.execPath, [BIN, 'analyze', '--config', path.join(dir, 'config.json'), '--checkpoint', dir, '--no-forward', '--json', '--backend', 'cpu'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { analyses: Array<{ model: string; totalParams: number; matchesOfficial: boolean }>; checkpoint: CheckpointDiagnosis };
  assert.deepEqual(out.analyses.map((a) => [a.model, a.totalParams, a.matchesOfficial]), [['flowcomp', 5_079_555, true]]);
  const d = out.checkpoint;
  assert.deepEqual([d.kind, d.iteration, d.networks.length, d.networks[0].name, d.networks[0].params], ['ours', 2, 1, 'flowcomp', 5_079_555]);
  const gen = readSafetensors(path.join(dir, 'gen_000002.safetensors')).tensors;
  const rows = new Map(d.networks[0].modules.map((m) => [m.module, m]));
  for (const m of ['downsample', 'feat_prop_module', 'edgeDetector']) assert.ok(close(rows.get(m)!.l2, l2(gen, m)), `${m}: ${rows.get(m)!.l2} vs ${l2(gen, m)}`);
  assert.equal([...rows.values()].reduce((a, m) => a + m.params, 0), 5_079_555);
  const opt = d.networks[0].optimizer!;
  assert.equal(opt.step, 2);
  assert.ok(opt.modules.every((m) => m.gradRms >= 0 && Number.isFinite(m.expAvgL2)) && opt.modules.some((m) => m.gradRms > 0));
  const text = spawnSync(process.execPath, [BIN, 'analyze', '--config', path.join(dir, 'config.json'), '--checkpoint', dir, '--no-forward', '--backend', 'cpu'], { encoding: 'utf8' });
  assert.equal(text.status, 0, text.stderr);
  assert.match(text.stdout, /training checkpoint .*state_000002\.json: iteration 2, epoch 0/);
  assert.match(text.stdout, /Adam state after 2 steps:/);
  const bad = spawnSync(process.execPath, [BIN, 'analyze', '--checkpoint', dir], { encoding: 'utf8' });
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /--checkpoint needs --config CONFIG/);
});

test('diagnosis of an official set (gen_/opt_NNNNNN.pth) and of a bare weights file', async () => {
  await useBackend('cpu');
  const dir = tmpDir('diag-official');
  const net = new RecurrentFlowCompleteNet();
  applyDetInit(net);
  const sd = net.stateDict();
  const names = net.namedParameters().map(([n]) => n);
  net.dispose();
  const state = new PyDict();
  names.forEach((n, i) => {
    const w = sd.get(n)!;
    const e = new PyDict();
    e.set('step', 3);
    e.set('exp_avg', { dtype: 'float32', shape: w.shape, data: Float32Array.from(w.data as Float32Array, (v) => 0.5 * v) } as HostTensor);
    e.set('exp_avg_sq', { dtype: 'float32', shape: w.shape, data: new Float32Array((w.data as Float32Array).length).fill(4) } as HostTensor);
    state.set(i, e);
  });
  const group = new PyDict();
  group.set('params', names.map((_, i) => i));
  group.set('betas', Object.freeze([0, 0.99]));
  const optimG = new PyDict();
  optimG.set('state', state);
  optimG.set('param_groups', [group]);
  const opt = new PyDict();
  for (const [k, v] of [['epoch', 1], ['iteration', 3], ['optimG', optimG]] as const) opt.set(k, v);
  writePth(path.join(dir, 'gen_000003.pth'), sd);
  writePth(path.join(dir, 'opt_000003.pth'), opt as Map<string, unknown>);
  const cfg = resolveConfig({ model: 'flowcomp', datasets: { train: { root: '-' } } });
  const d = diagnoseCheckpoint(cfg, dir);
  assert.deepEqual([d.kind, d.iteration, d.epoch, d.checkpoint], ['official', 3, 1, path.join(dir, 'opt_000003.pth')]);
  const o = d.networks[0].optimizer!;
  assert.equal(o.step, 3);
  const fp = o.modules.find((m) => m.module === 'feat_prop_module')!;
  assert.ok(close(fp.expAvgL2, l2(sd, 'feat_prop_module', 0.5)), `${fp.expAvgL2} vs ${l2(sd, 'feat_prop_module', 0.5)}`);
  assert.ok(o.modules.every((m) => close(m.gradRms, 2)), 'sqrt(mean(exp_avg_sq)) = 2');
  const weights = path.join(tmpDir('diag-weights'), 'recurrent_flow_completion.pth');
  fs.copyFileSync(path.join(dir, 'gen_000003.pth'), weights);
  const w = diagnoseCheckpoint(cfg, weights);
  assert.deepEqual([w.kind, w.iteration, w.networks[0].optimizer], ['weights', undefined, undefined]);
  assert.deepEqual(w.networks[0].modules, d.networks[0].modules);
});
