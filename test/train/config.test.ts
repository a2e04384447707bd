/**
 * Configs: the training guide's blocks load verbatim (files in ../shared/reference/guide-configs)
 * with the same meaning; the merged blocks (progressive, fp16, warm-up, multi-GPU JSONC) do what
 * the guide says or are reported / refused clearly; flip, random_reverse_clip and strict_load do
 * what they say; the shipped configs load; docs/config.md is the generated reference.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CONFIG_SCHEMA, loadConfig, parseJsonc, resolveConfig } from '../../lib/train/config';
import { configReference } from '../../lib/train/config-docs';
import type { Field } from '../../lib/train/schema';
import { ConfigError } from '../../lib/train/schema';
import { processBatchSize, progressiveSize, trainDataset } from '../../lib/train/data';
import { createSystem } from '../../lib/train/systems';
import { RecurrentFlowCompleteNet } from '../../lib/models/flow-completion';
import { writeSafetensors } from '../../lib/io/safetensors';
import { useBackend } from '../../lib/runtime';
import { hasShared } from '../helpers';
import { synthRoot, tmpDir } from './helpers';

const ROOT = path.resolve(__dirname, '..', '..');
const GUIDE = path.join(ROOT, '..', 'shared', 'reference', 'guide-configs');
const guide = (f: string) => parseJsonc(fs.readFileSync(path.join(GUIDE, f), 'utf8')) as Record<string, unknown>;
const skip = !hasShared && 'no ../shared';

/** Deep merge of a guide block into a config (objects merged, everything else replaced). */
function merge(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out = structuredClone(a);
  for (const [k, v] of Object.entries(b)) {
    const cur = out[k];
    out[k] = cur && v && typeof cur === 'object' && typeof v === 'object' && !Array.isArray(v) ? merge(cur as Record<string, unknown>, v as Record<string, unknown>) : v;
  }
  return out;
}

test('the guide\'s flow-completion block loads verbatim with its meaning', { skip }, () => {
  const notes: string[] = [];
  const c = loadConfig(path.join(GUIDE, 'train_flowcomp.json'), [], (l) => notes.push(l));
  assert.equal(c.model, 'recurrent_flow_completion');
  assert.equal(c.name, 'FlowCompletion_Train');
  assert.equal(c.save_dir, path.join('experiments', 'FlowCompletion_Train'));
  const d = c.datasets.train;
  assert.deepEqual([d.root, d.frames_dir, d.flow_root, d.load_flow], ['datasets/youtube-vos', undefined, 'datasets/youtube-vos/flows_432_240', true]);
  assert.deepEqual([d.width, d.height, d.num_local_frames, d.num_ref_frames], [432, 240, 5, 0]);
  assert.deepEqual([c.train.batch_size, c.train.warmup, c.train.lr_steps, c.train.total_iter, c.train.beta1], [8, 1000, [100000, 200000], 300000, 0.9]);
  assert.deepEqual([c.loss.flow_weight, c.loss.warp_weight, c.loss.edge_weight], [1, 0.1, 1]);
  assert.deepEqual([c.networks.generator, c.networks.discriminator], ['flowcomp', 'none']);
  assert.deepEqual(notes, ['loss.l1_weight: not used by recurrent_flow_completion training (its loss terms: flow_weight, warp_weight, edge_weight)']);
});

test('the guide\'s ProPainter block loads verbatim with its meaning', { skip }, () => {
  const notes: string[] = [];
  const c = loadConfig(path.join(GUIDE, 'train_propainter.json'), [], (l) => notes.push(l));
  assert.equal(c.model, 'propainter');
  assert.equal(c.strict_load, false);
  const d = c.datasets.train;
  // data_root names the frames folder: the root is its parent (where train.json lives).
  assert.deepEqual([d.root, d.frames_dir, d.mask_root, d.load_flow], ['datasets/youtube-vos', 'JPEGImages_432_240', 'datasets/youtube-vos/test_masks', true]);
  assert.deepEqual([d.num_local_frames, d.num_ref_frames, d.flip, d.random_reverse_clip], [5, 6, true, true]);
  assert.deepEqual([c.train.batch_size, c.train.warmup, c.train.log_freq, c.train.lr_gamma], [8, 0, 100, 0.1]);
  // l1_weight sets hole and valid (and is then dropped); the rest as written.
  const l = c.loss as Record<string, unknown>;
  assert.deepEqual([l.hole_weight, l.valid_weight, l.perceptual_weight, l.style_weight, l.adversarial_weight, l.lpips_weight], [1, 1, 0.1, 120, 0.01, 0]);
  assert.equal('l1_weight' in l, false);
  assert.deepEqual(notes, ['datasets.train.num_ref_frames -1: 6 reference frames (the propainter default)']);
  assert.deepEqual(resolveConfig(structuredClone(c) as unknown as Record<string, unknown>), c, 'a resolved config resolves to itself');
});

test('merged guide blocks: staged progressive growth, fp16 + opt_level and model_parallel reported once, top-level warm-up, JSONC multi-GPU: four processes share the total batch', { skip }, () => {
  const base = guide('train_flowcomp.json');
  const prog = resolveConfig(merge(base, guide('progressive.json')));
  assert.deepEqual(prog.progressive, { start_size: [216, 120], end_size: [432, 240], grow_steps: [50000, 100000, 150000] });
  // [H, W] trained at: 216×120 until 50k, then equal steps to 432×240 at 150k.
  assert.deepEqual([0, 49999, 50000, 99999, 100000, 150000, 300000].map((it) => progressiveSize(prog, it)), [
    [120, 216], [120, 216], [160, 288], [160, 288], [200, 360], [240, 432], [240, 432],
  ]);
  const notes: string[] = [];
  const fp = resolveConfig(merge(merge(base, guide('fp16.json')), { model_parallel: true }), { report: (l) => notes.push(l) });
  assert.deepEqual([fp.fp16, fp.opt_level, fp.model_parallel], [true, 'O1', true]);
  assert.equal(notes.filter((n) => /^fp16 \(opt_level O1\): TF\.js has no float16 training path.*float32/.test(n)).length, 1, notes.join('\n'));
  assert.equal(notes.filter((n) => /^model_parallel: .*ignored/.test(n)).length, 1, notes.join('\n'));
  const wu = resolveConfig(merge(guide('train_propainter.json'), guide('warmup.json')));
  assert.deepEqual([wu.train.warmup, wu.train.warmup_lr], [1000, 1e-6]);
  const multi = merge(base, guide('multi_gpu.jsonc'));
  const four = resolveConfig(multi);
  assert.deepEqual(four.gpu_ids, [0, 1, 2, 3]);
  assert.equal(four.train.batch_size, 16, 'datasets.train.batch_size is the total batch');
  assert.equal(processBatchSize(four, 4), 4, 'split over the four processes');
  assert.throws(() => processBatchSize(four, 3), /train\.batch_size: the total batch 16 does not split evenly over 3 processes; give a multiple of 3/);
});

test('two spellings of one setting must agree; errors name both keys', () => {
  const bad = (raw: Record<string, unknown>, re: RegExp) => assert.throws(() => resolveConfig(raw), (e: unknown) => e instanceof ConfigError && re.test(e.message));
  const ds = (extra: Record<string, unknown>) => ({ model: 'flowcomp', datasets: { train: { data_root: 'd', ...extra } } });
  bad(ds({ size: [64, 64], width: 32 }), /datasets\.train\.size: conflicts with datasets\.train\.width 32/);
  bad({ ...ds({ batch_size: 2 }), train: { batch_size: 4 } }, /datasets\.train\.batch_size: conflicts with train\.batch_size 4/);
  bad(ds({ size: [64] }), /datasets\.train\.size: expected \[width, height\]/);
  bad({ ...ds({}), loss: { holes_weight: 1 } }, /loss\.holes_weight: unknown loss weight \(known: hole_weight, l1_weight, valid_weight/);
  bad({ ...ds({}), loss: { hole_wieght: 1 } }, /loss\.hole_wieght: unknown key \(allowed: gan_type, vgg, lpips, lpips_trunk, \*_weight\)/);
  bad({ ...ds({}), networks: { generator: 'propainter' } }, /networks\.generator: "propainter" is not a flow_completion network \(flowcomp\)/);
  const same = resolveConfig(ds({ size: [64, 48], width: 64 }));
  assert.deepEqual([same.datasets.train.width, same.datasets.train.height], [64, 48]);
});

test('flip and random_reverse_clip switch the augmentations; strict_load false loads the matching keys and says which did not match', async () => {
  await useBackend('cpu');
  const root = await synthRoot(16, 3, 8);
  const data = (flip: boolean, reverse: boolean) =>
    trainDataset(resolveConfig({ model: 'flowcomp', seed: 3, datasets: { train: { data_root: root, size: [16, 16], num_frames: 3, flip, random_reverse_clip: reverse } } }));
  const draws = async (flip: boolean, reverse: boolean) => {
    const ds = data(flip, reverse);
    const items = await Promise.all(Array.from({ length: 12 }, (_, k) => ds.getItem(k % ds.length, Math.floor(k / ds.length))));
    return { flipped: items.filter((s) => s.flipped).length, reversed: items.filter((s) => s.reversed).length };
  };
  const on = await draws(true, true);
  assert.ok(on.flipped > 0 && on.reversed > 0, JSON.stringify(on));
  assert.deepEqual(await draws(false, false), { flipped: 0, reversed: 0 });

  const net = new RecurrentFlowCompleteNet();
  const sd = net.stateDict();
  net.dispose();
  sd.delete('edgeDetector.out_layer.bias');
  sd.set('extra.weight', { dtype: 'float32', shape: [1], data: Float32Array.of(1) });
  const file = path.join(tmpDir('strict'), 'partial.safetensors');
  writeSafetensors(file, sd);
  const cfg = (strict: boolean) => resolveConfig({ model: 'flowcomp', strict_load: strict, datasets: { train: { root, load_flow: true } }, networks: { init_generator: file } });
  assert.throws(() => createSystem(cfg(true), () => undefined), /partial\.safetensors: state dict does not match RecurrentFlowCompleteNet:[\s\S]*edgeDetector\.out_layer\.bias/);
  const lines: string[] = [];
  createSystem(cfg(false), (l) => lines.push(l)).dispose();
  assert.ok(lines.some((l) => /partial\.safetensors: strict_load false — 1 key\(s\) not in the file keep their values \(edgeDetector\.out_layer\.bias\), 1 extra key\(s\) ignored \(extra\.weight\)/.test(l)), lines.join('\n'));
});

test('the shipped configs load; the guide\'s flowcomp spelling is the model zoo name', () => {
  for (const f of fs.readdirSync(path.join(ROOT, 'configs')).filter((n) => n.endsWith('.json'))) {
    const c = loadConfig(path.join(ROOT, 'configs', f));
    assert.ok(c.model === 'propainter' || c.model === 'recurrent_flow_completion', f);
  }
  const official = loadConfig(path.join(ROOT, 'configs', 'train_propainter.json'));
  assert.deepEqual([official.train.lr, official.train.lr_steps, official.train.beta1, official.loss.adversarial_weight], [1e-4, [400000], 0, 0.01]);
});

test('docs/config.md is the generated reference (npm run docs:config) and every key has a doc line', () => {
  const walk = (f: Field, key: string): string[] =>
    f.kind === 'object' ? Object.entries(f.fields).flatMap(([k, c]) => walk(c, key ? `${key}.${k}` : k)) : f.doc.trim() ? [] : [key];
  assert.deepEqual(walk(CONFIG_SCHEMA, ''), [], 'keys without a doc line');
  const doc = fs.readFileSync(path.join(ROOT, 'docs', 'config.md'), 'utf8');
  assert.ok(doc === configReference(), 'docs/config.md is stale: run `npm run docs:config`');
});
