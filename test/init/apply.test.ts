/** applyDetInit on Modules, including an aliased child (one BatchNorm under two names, as in RAFT). */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { FIXTURES, hasShared } from '../helpers';
import { useBackend } from '../../lib/runtime';
import { BatchNorm, Conv2d, Linear, Module, Sequential } from '../../lib/nn';
import { applyDetInit } from '../../lib/init/apply';
import { detValues } from '../../lib/init/det-init';
import { HostTensor } from '../../lib/io/host-tensor';

/** RAFT's strided residual block: `downsample.1` IS `norm3` (registered first). */
class Block extends Module {
  readonly conv1: Conv2d;
  readonly norm3: BatchNorm;
  readonly downsample: Sequential;
  constructor(inC: number, outC: number) {
    super();
    this.conv1 = this.registerModule('conv1', new Conv2d(inC, outC, 3, { padding: 1 }));
    this.norm3 = this.registerModule('norm3', new BatchNorm(outC));
    this.downsample = this.registerModule('downsample', new Sequential([new Conv2d(inC, outC, 1), this.norm3]));
  }
}

class Net extends Module {
  readonly block = this.registerModule('block', new Block(3, 4));
  readonly head = this.registerModule('head', new Linear(4, 2));
}

function bits(t: HostTensor | Float32Array): Buffer {
  const d = t instanceof Float32Array ? t : t.data;
  return Buffer.from(d.buffer, d.byteOffset, d.byteLength);
}

test('applyDetInit: every float entry gets det-init of its name; an alias gets the first name\'s values', async () => {
  await useBackend('cpu');
  const net = new Net();
  try {
    applyDetInit(net);
    const sd = net.stateDict();
    assert.deepEqual([...sd.keys()], [
      'block.conv1.weight', 'block.conv1.bias',
      'block.norm3.weight', 'block.norm3.bias', 'block.norm3.running_mean', 'block.norm3.running_var', 'block.norm3.num_batches_tracked',
      'block.downsample.0.weight', 'block.downsample.0.bias',
      'block.downsample.1.weight', 'block.downsample.1.bias', 'block.downsample.1.running_mean', 'block.downsample.1.running_var',
      'block.downsample.1.num_batches_tracked',
      'head.weight', 'head.bias',
    ]);
    for (const [name, t] of sd) {
      if (t.dtype !== 'float32') {
        assert.equal(t.dtype, 'int64', name);
        assert.equal((t.data as BigInt64Array)[0], 0n, `${name}: integer buffer kept`);
        continue;
      }
      const source = name.replace('block.downsample.1.', 'block.norm3.');
      // PyTorch layout (conv weights [out, in, kh, kw]) must carry the values in PyTorch order
      assert.ok(bits(t).equals(bits(detValues(source, t.shape))), `${name} = detValues(${source})`);
      if (source !== name) assert.ok(!bits(t).equals(bits(detValues(name, t.shape))), `${name} is not detValues of its own name`);
    }
    const rv = sd.get('block.downsample.1.running_var')!.data as Float32Array;
    assert.ok(rv.every((x) => x >= 0.9 && x < 1.1), 'running_var = 1 ± 0.1');
    // Aliased parameters are counted once (norm3 weight + bias = 8)
    assert.equal(net.numParameters(), 4 * 3 * 9 + 4 + 8 + 4 * 3 + 4 + 2 * 4 + 2);
  } finally {
    net.dispose();
  }
});

class RaftLayer2 extends Module {
  constructor(manifest: Map<string, { shape: number[] }>) {
    super();
    const blk = new Module0();
    const w = (n: string) => manifest.get(`cnet.layer2.0.${n}`)!.shape;
    const [outC, inC] = w('downsample.0.weight');
    blk.add('norm3', new BatchNorm(w('norm3.weight')[0]));
    blk.add('downsample', new Sequential([new Conv2d(inC, outC, 1, { stride: 2 }), blk.get('norm3')]));
    const layer2 = new Module0();
    layer2.add('0', blk);
    const cnet = new Module0();
    cnet.add('layer2', layer2);
    this.registerModule('cnet', cnet);
  }
}

/** A container that registers children by name. */
class Module0 extends Module {
  private readonly kids = new Map<string, Module>();
  add(name: string, m: Module): void {
    this.kids.set(name, this.registerModule(name, m));
  }
  get(name: string): Module {
    return this.kids.get(name)!;
  }
}

test('applyDetInit reproduces RAFT\'s aliased BatchNorm entries of weights_manifest.json', { skip: hasShared ? false : `no ${FIXTURES}` }, async () => {
  await useBackend('cpu');
  const raft = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'weights_manifest.json'), 'utf8')).models.RAFT as Array<{
    name: string; shape: number[]; init: string; sha256_f32le?: string; values_head?: number[];
  }>;
  const byName = new Map(raft.map((e) => [e.name, e]));
  const net = new RaftLayer2(byName);
  try {
    applyDetInit(net);
    const sd = net.stateDict();
    const names = [...sd.keys()];
    assert.ok(names.includes('cnet.layer2.0.downsample.1.weight'));
    assert.equal(byName.get('cnet.layer2.0.downsample.1.weight')!.init, 'alias');
    for (const [name, t] of sd) {
      const e = byName.get(name);
      assert.ok(e, `${name} is a RAFT state-dict entry`);
      assert.deepEqual(t.shape, e.shape, name);
      if (t.dtype === 'int64') {
        assert.deepEqual(Array.from(t.data as BigInt64Array, Number), e.values_head, name);
        continue;
      }
      assert.equal(crypto.createHash('sha256').update(bits(t)).digest('hex'), e.sha256_f32le, `${name} (${e.init})`);
    }
  } finally {
    net.dispose();
  }
});
