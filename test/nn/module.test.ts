import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../../lib/runtime';
import { Conv2d, Linear, Sequential, LeakyReLU, BatchNorm, StateDictError, Module } from '../../lib/nn';

class Net extends Module {
  readonly body = this.registerModule('body', new Sequential([new Conv2d(3, 4, 3, { padding: 1 }), new LeakyReLU(0.2), new Conv2d(4, 2, 1)]));
  readonly head = this.registerModule('head', new Linear(2, 5));
  readonly bn = this.registerModule('bn', new BatchNorm(2));
}

test('state dict keys and PyTorch shapes', async () => {
  await useBackend('cpu');
  const net = new Net();
  const sd = net.stateDict();
  assert.deepEqual([...sd.keys()], [
    'body.0.weight', 'body.0.bias', 'body.2.weight', 'body.2.bias', 'head.weight', 'head.bias',
    'bn.weight', 'bn.bias', 'bn.running_mean', 'bn.running_var', 'bn.num_batches_tracked',
  ]);
  assert.deepEqual(sd.get('body.0.weight')!.shape, [4, 3, 3, 3]);
  assert.deepEqual(sd.get('head.weight')!.shape, [5, 2]);
  assert.equal(sd.get('bn.num_batches_tracked')!.dtype, 'int64');
  assert.equal(net.numParameters(), 4 * 27 + 4 + 8 + 2 + 10 + 5 + 4);
  net.dispose();
});

test('loadStateDict round-trips and converts layouts', async () => {
  await useBackend('cpu');
  const a = new Net();
  const b = new Net();
  const sd = a.stateDict();
  // Conv weight element (o=1, i=2, y=0, x=1) in PyTorch order must land at filter[0,1,2,1].
  const w = sd.get('body.0.weight')!.data as Float32Array;
  w[1 * 27 + 2 * 9 + 0 * 3 + 1] = 42;
  b.loadStateDict(sd);
  const filter = b.body.at(0) as Conv2d;
  assert.equal(filter.weight.bufferSync().get(0, 1, 2, 1), 42);
  const back = b.stateDict();
  for (const [k, v] of sd) assert.deepEqual(Array.from(back.get(k)!.data as any), Array.from(v.data as any), k);
  a.dispose();
  b.dispose();
});

test('strict loading lists missing, unexpected and mismatched keys', async () => {
  await useBackend('cpu');
  const net = new Net();
  const sd = net.stateDict();
  sd.delete('head.bias');
  sd.set('extra.weight', { dtype: 'float32', shape: [1], data: new Float32Array(1) });
  sd.set('body.2.weight', { dtype: 'float32', shape: [2, 4, 3, 3], data: new Float32Array(72) });
  assert.throws(() => net.loadStateDict(sd), (e: unknown) => {
    assert.ok(e instanceof StateDictError);
    assert.deepEqual(e.missing, ['head.bias']);
    assert.deepEqual(e.unexpected, ['extra.weight']);
    assert.match(e.message, /body\.2\.weight: checkpoint \[2, 4, 3, 3\] vs model \[2, 4, 1, 1\]/);
    return true;
  });
  net.dispose();
});

test('train/eval mode propagates and BatchNorm tracks running stats', async () => {
  await useBackend('cpu');
  const net = new Net();
  net.eval();
  assert.equal(net.bn.training, false);
  net.train();
  const x = tf.tensor4d([1, 2, 3, 4, 5, 6, 7, 8], [1, 2, 2, 2]);
  net.bn.forward(x).dispose();
  // channel 0 values 1,3,5,7: mean 4, unbiased var 20/3; momentum 0.1
  assert.ok(Math.abs(net.bn.runningMean.dataSync()[0] - 0.4) < 1e-6);
  assert.ok(Math.abs(net.bn.runningVar.dataSync()[0] - (0.9 + 0.1 * 20 / 3)) < 1e-5);
  x.dispose();
  net.dispose();
});
