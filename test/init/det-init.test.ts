/**
 * det-init v1: lib/init/det-init.ts against the shared reference implementation (bit for bit) and
 * against weights_manifest.json (sha256 of the float32 LE bytes of every det / alias entry of
 * every model: RAFT, RecurrentFlowCompleteNet, InpaintGenerator, Discriminator, VGG19).
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { FIXTURES, SHARED, hasShared } from '../helpers';
import * as ours from '../../lib/init/det-init';

type DetInit = typeof ours;
const REFERENCE = path.join(SHARED, 'reference', 'det-init.ts');
const skipRef = fs.existsSync(REFERENCE) ? false : `reference det-init not found at ${REFERENCE}`;
const skip = hasShared ? false : `shared fixtures not found at ${FIXTURES}`;

function reference(): DetInit {
  // Loaded at run time (tsx compiles it) so the suite still loads when ../shared is absent.
  return require(REFERENCE) as DetInit;
}

function sha256(v: Float32Array): string {
  return crypto.createHash('sha256').update(Buffer.from(v.buffer, v.byteOffset, v.byteLength)).digest('hex');
}

const NAMES = [
  '', 'a', 'weight', 'bias', 'running_var', 'x.running_var', 'bn.running_var_not', 'running_mean',
  'fnet.conv1.weight', 'cnet.layer2.0.downsample.1.weight', 'cnet.layer2.0.norm3.weight',
  'transformers.transformer.7.attention.valid_ind_rolled', 'conv.0.weight_orig', 'conv.0.weight_u', 'conv.0.weight_v',
  'module.encoder.0.weight', 'fixture.dc_mask.offset', 'ünïcödé.名前.weight', 'emoji.😀.bias', 'x'.repeat(300),
];
const SHAPES: number[][] = [
  [], [0], [1], [7], [64], [3, 5], [1, 1], [5, 1], [1, 5], [8, 3, 3, 3], [16, 4, 1, 1], [2, 2, 3, 1, 1], [4, 0, 3], [130, 257],
];

test('det-init is bit-identical to shared/reference/det-init.ts over names × shapes', { skip: skipRef }, () => {
  const ref = reference();
  assert.equal(ours.DET_INIT_VERSION, ref.DET_INIT_VERSION);
  let compared = 0;
  for (const name of NAMES) {
    assert.equal(ours.fnv1a32(name), ref.fnv1a32(name), `fnv1a32(${JSON.stringify(name)})`);
    for (const shape of SHAPES) {
      assert.equal(ours.detScale(shape), ref.detScale(shape), `detScale([${shape}])`);
      const a = ours.detValues(name, shape);
      const b = ref.detValues(name, shape);
      assert.equal(a.length, b.length);
      assert.ok(Buffer.from(a.buffer).equals(Buffer.from(b.buffer)), `detValues(${JSON.stringify(name.slice(0, 40))}, [${shape}])`);
      compared += a.length;
    }
    const u = ours.detUniform(name, 1000);
    const v = ref.detUniform(name, 1000);
    assert.ok(Buffer.from(u.buffer).equals(Buffer.from(v.buffer)), `detUniform(${JSON.stringify(name.slice(0, 40))})`);
  }
  // mulberryAt at random-access positions, incl. past 2^31 and seeds at the uint32 edges
  for (const seed of [0, 1, 0x7fffffff, 0x80000000, 0xffffffff, ours.fnv1a32('weight')]) {
    for (const i of [0, 1, 2, 1000, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 2, 123456789]) {
      assert.equal(ours.mulberryAt(seed, i), ref.mulberryAt(seed, i), `mulberryAt(${seed}, ${i})`);
    }
  }
  // one large tensor (a ProPainter-sized conv weight)
  const big = [512, 512, 3, 3];
  assert.equal(sha256(ours.detValues('big.weight', big)), sha256(ref.detValues('big.weight', big)));
  assert.ok(compared > 10000);
});

interface ManifestEntry {
  name: string;
  shape: number[];
  dtype: string;
  init: 'det' | 'alias' | 'kept';
  alias_of?: string;
  sum_f64?: number;
  first?: number[];
  sha256_f32le?: string;
  values_head?: number[];
}

test('det-init matches weights_manifest.json (sha256 of every det and alias entry, all models)', { skip }, () => {
  const manifest = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'weights_manifest.json'), 'utf8'));
  assert.equal(manifest.version, ours.DET_INIT_VERSION);
  let hashed = 0;
  let values = 0;
  const models = Object.entries(manifest.models as Record<string, ManifestEntry[]>);
  assert.equal(models.length, 5);
  for (const [model, entries] of models) {
    const byName = new Map(entries.map((e) => [e.name, e]));
    for (const e of entries) {
      const what = `${model}: ${e.name}`;
      if (e.init === 'kept') continue; // integer buffers and VGG mean/std: not det-init
      let source = e.name;
      if (e.init === 'alias') {
        const target = byName.get(e.alias_of!);
        assert.ok(target, `${what}: alias_of ${e.alias_of} exists`);
        assert.ok(entries.indexOf(target) < entries.indexOf(e), `${what}: alias target comes first`);
        assert.deepEqual(target.shape, e.shape, what);
        if (target.init === 'kept') {
          assert.deepEqual(e.values_head, target.values_head, `${what}: same kept values as ${e.alias_of}`);
          continue;
        }
        source = e.alias_of!;
      }
      assert.equal(e.dtype, 'float32', what);
      const v = ours.detValues(source, e.shape);
      assert.equal(sha256(v), e.sha256_f32le, `${what}: sha256`);
      assert.deepEqual(Array.from(v.subarray(0, e.first!.length)), e.first, `${what}: first values`);
      let sum = 0;
      for (let i = 0; i < v.length; i++) sum += v[i];
      assert.ok(Math.abs(sum - e.sum_f64!) <= 1e-9 * Math.max(1, Math.abs(e.sum_f64!)), `${what}: sum ${sum} vs ${e.sum_f64}`);
      hashed++;
      values += v.length;
    }
  }
  // every det/alias float entry of every model (~74 M values) was hashed, none sampled
  assert.equal(hashed, 493);
  assert.equal(values, 74283751);
});
