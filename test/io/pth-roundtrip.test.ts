/**
 * .pth files written by the tests themselves, in both container formats, from a known state dict:
 * legacy through the independent test writer (test/fixtures/pth-writer.ts), zip through the
 * library's writer; plus safetensors and Module state-dict round trips.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { seeded } from '../helpers';
import { DType, HostData, HostTensor, StateDict, floatToHalf, halfToFloat } from '../../lib/io/host-tensor';
import { PthView, flattenTensors, parsePth, readPth, readPthObject, serializePth, writePth } from '../../lib/io/pth';
import { PyDict } from '../../lib/io/pickle';
import { loadCheckpoint, saveCheckpoint } from '../../lib/io/checkpoint';
import { readSafetensors, writeSafetensors } from '../../lib/io/safetensors';
import { ZipReader, buildTorchZip } from '../../lib/io/zip';
import { ViewSpec, Value, legacyPthBytes, rezipDeflated, writeLegacyPth } from '../fixtures/pth-writer';
import { useBackend } from '../../lib/runtime';
import { BatchNorm, Conv2d, LeakyReLU, Linear, Module, Sequential } from '../../lib/nn';
import { applyDetInit } from '../../lib/init/apply';

function tmpdir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'pth-rt-'));
}

function bytesOf(d: HostData): Buffer {
  return Buffer.from(d.buffer, d.byteOffset, d.byteLength);
}

function contiguous(dtype: DType, data: HostData, shape: number[]): ViewSpec {
  const stride = shape.map((_, d) => shape.slice(d + 1).reduce((a, b) => a * b, 1));
  return { storage: { dtype, data }, offset: 0, shape, stride };
}

/** The logical (row-major) elements of a view, computed independently of the library. */
function gather(v: ViewSpec): number[] {
  const src = Array.from(v.storage.data as ArrayLike<number | bigint>, (x) => Number(x));
  const out: number[] = [];
  const rec = (d: number, at: number) => {
    if (d === v.shape.length) {
      out.push(src[at]);
      return;
    }
    for (let i = 0; i < v.shape[d]; i++) rec(d + 1, at + i * v.stride[d]);
  };
  rec(0, v.offset + (v.legacyView?.offset ?? 0));
  return out;
}

// A known state dict with every dtype and the awkward cases.
const halfVals = [0, -0, 1, -2.5, 65504, 6.1e-5, 5.96e-8, 1 / 3, Infinity, -Infinity, 0.1, -1000, 3.14159, 7, -7e-3];
const halfBits = Uint16Array.from(halfVals, floatToHalf);
const shared = Float32Array.from(seeded(30, 11)); // one storage, two tensors
const tbase = Float32Array.from(seeded(30, 12)); // [6, 5], stored transposed as [5, 6]
const int64 = BigInt64Array.from([0n, -1n, 2n ** 40n, -(2n ** 40n) - 3n, 2n ** 62n, 7n]);

function knownViews(): Array<[string, ViewSpec]> {
  const one = { dtype: 'float32' as DType, data: shared };
  return [
    ['module.conv.weight', contiguous('float32', seeded(4 * 3 * 3 * 3, 1), [4, 3, 3, 3])],
    ['module.conv.bias', contiguous('float32', seeded(4, 2), [4])],
    ['module.half', contiguous('float16', halfBits, [3, 5])],
    ['module.bf16', contiguous('bfloat16', Uint16Array.from([0x3f80, 0xc040, 0x0001, 0x7f80]), [2, 2])],
    ['module.double', contiguous('float64', Float64Array.from([Math.PI, -1e300, 5e-324, 0.1]), [4])],
    ['module.bn.num_batches_tracked', contiguous('int64', BigInt64Array.from([12345678901234n]), [])],
    ['module.idx', contiguous('int64', int64, [2, 3])],
    ['module.i32', contiguous('int32', Int32Array.from([-2147483648, 2147483647, 0, 5]), [4])],
    ['module.i16', contiguous('int16', Int16Array.from([-32768, 32767, 1]), [3])],
    ['module.i8', contiguous('int8', Int8Array.from([-128, 127]), [2])],
    ['module.u8', contiguous('uint8', Uint8Array.from([0, 255, 17]), [3])],
    ['module.mask', contiguous('bool', Uint8Array.from([1, 0, 0, 1]), [4])],
    ['module.scalar', contiguous('float32', Float32Array.from([2.5]), [])],
    ['module.empty', contiguous('float32', new Float32Array(0), [0, 3])],
    // non-contiguous: the transpose of a [6, 5] tensor
    ['module.transposed', { storage: { dtype: 'float32', data: tbase }, offset: 0, shape: [5, 6], stride: [1, 5] }],
    // two tensors, one storage; the second starts at element 10
    ['module.head', { storage: one, offset: 0, shape: [2, 5], stride: [5, 1] }],
    ['module.tail', { storage: one, offset: 10, shape: [4, 5], stride: [5, 1] }],
    // a column slice with an offset: shape [4, 2] from the shared storage, stride [5, 2]
    ['module.cols', { storage: one, offset: 11, shape: [4, 2], stride: [5, 2] }],
  ];
}

function checkAgainstKnown(dict: StateDict, what: string, prefix = 'module.'): void {
  const views = knownViews();
  assert.deepEqual([...dict.keys()], views.map(([k]) => k.replace(/^module\./, prefix)), `${what}: keys`);
  for (const [k, v] of views) {
    const t = dict.get(k.replace(/^module\./, prefix))!;
    const name = `${what}: ${k}`;
    assert.equal(t.dtype, v.storage.dtype, name);
    assert.deepEqual(t.shape, v.shape, name);
    const want = gather(v);
    // compare raw bits for floats (covers -0, NaN payloads, half/bfloat16 bit patterns)
    const got = Array.from(t.data as ArrayLike<number | bigint>, (x) => Number(x));
    if (t.dtype === 'float32' || t.dtype === 'float64') {
      const W = t.dtype === 'float32' ? Float32Array : Float64Array;
      assert.ok(bytesOf(new W(want)).equals(bytesOf(t.data)), `${name}: bits`);
    } else {
      assert.deepEqual(got, want, name);
    }
  }
  const half = dict.get(`${prefix}half`)!;
  assert.deepEqual(Array.from(half.data as Uint16Array, halfToFloat).map((x) => Math.fround(x)), halfVals.map((x) => halfToFloat(floatToHalf(x))));
  assert.equal((dict.get(`${prefix}idx`)!.data as BigInt64Array)[4], 2n ** 62n, `${what}: int64 beyond 2^53 kept exactly`);
}

function asPthValue(views: Array<[string, ViewSpec]>): Map<string, unknown> {
  const storages = new Map<unknown, { dtype: DType; data: HostData }>();
  const m = new Map<string, unknown>();
  for (const [k, v] of views) {
    if (!storages.has(v.storage)) storages.set(v.storage, { dtype: v.storage.dtype, data: v.storage.data });
    m.set(k, new PthView(storages.get(v.storage)!, v.offset, v.shape, v.stride));
  }
  return m;
}

test('legacy .pth (protocol 2 and 4, little and big endian) written by the test writer reads back exactly', () => {
  const dir = tmpdir();
  try {
    const obj: Value = new Map(knownViews());
    for (const opts of [{ protocol: 2 as const }, { protocol: 4 as const }, { protocol: 2 as const, bigEndian: true }]) {
      const file = path.join(dir, `legacy-p${opts.protocol}${opts.bigEndian ? '-be' : ''}.pth`);
      writeLegacyPth(file, obj, opts);
      const what = `legacy ${JSON.stringify(opts)}`;
      const { format, object } = readPthObject(file);
      assert.equal(format, 'legacy', what);
      checkAgainstKnown(flattenTensors(object), what);
      checkAgainstKnown(readPth(file), what);
      // loadCheckpoint: every key has module. → stripped
      checkAgainstKnown(loadCheckpoint(file), `${what} via loadCheckpoint`, '');
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('legacy storage views (torch < 0.4 view_metadata) are resolved', () => {
  const root = { dtype: 'float32' as DType, data: Float32Array.from(seeded(20, 5)) };
  const v: ViewSpec = { storage: root, offset: 1, shape: [2, 3], stride: [3, 1], legacyView: { offset: 8, size: 10 } };
  const buf = legacyPthBytes(new Map([['w', v], ['whole', { storage: root, offset: 0, shape: [20], stride: [1] }]]));
  const sd = readPthFromBytes(buf);
  assert.deepEqual(Array.from(sd.get('w')!.data as Float32Array), Array.from(root.data.subarray(9, 15)));
  assert.deepEqual(Array.from(sd.get('whole')!.data as Float32Array), Array.from(root.data));
});

function readPthFromBytes(buf: Uint8Array): StateDict {
  return flattenTensors(parsePth(buf, 'bytes').object);
}

test('zip .pth written by the library (shared storages, strides, every dtype) reads back exactly', () => {
  const dir = tmpdir();
  try {
    const file = path.join(dir, 'views.pth');
    fs.writeFileSync(file, Buffer.concat(serializePth(asPthValue(knownViews()))));
    assert.equal(readPthObject(file).format, 'zip');
    checkAgainstKnown(readPth(file), 'zip views');
    // The shared storage is written once: 18 tensors, 16 storages (head/tail/cols share one).
    const zip = ZipReader.open(file);
    try {
      const names = zip.entries.map((e) => e.name);
      assert.equal(names[0], 'archive/data.pkl');
      assert.equal(names[names.length - 1], 'archive/version');
      assert.equal(names.filter((n) => n.startsWith('archive/data/')).length, 16);
      for (const e of zip.entries) assert.equal(zip.dataOffset(e) % 64, 0, `${e.name} 64-byte aligned`);
    } finally {
      zip.close();
    }
    // writePth of the materialised state dict, then loadCheckpoint (module. stripped)
    const sd = readPth(file);
    const file2 = path.join(dir, 'plain.pth');
    writePth(file2, sd);
    checkAgainstKnown(readPth(file2), 'zip writePth');
    checkAgainstKnown(loadCheckpoint(file2), 'zip loadCheckpoint', '');
    checkAgainstKnown(loadCheckpoint(file2, { stripModulePrefix: false }), 'zip loadCheckpoint no strip');
    // writePth output identical when written twice (deterministic, no timestamps)
    const file3 = path.join(dir, 'plain2.pth');
    writePth(file3, sd);
    assert.ok(fs.readFileSync(file2).equals(fs.readFileSync(file3)));
    assert.deepEqual(fs.readdirSync(dir).sort(), ['plain.pth', 'plain2.pth', 'views.pth'], 'no temp files left');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a checkpoint re-zipped with deflate and a ZIP64-form archive are read', () => {
  const orig = Buffer.concat(serializePth(asPthValue(knownViews()), { archiveName: 'my_model' }));
  const zip = ZipReader.fromBuffer(orig, 'orig');
  const entries = zip.entries.map((e) => ({ name: e.name, data: zip.read(e) }));
  const deflated = rezipDeflated(entries);
  const z2 = ZipReader.fromBuffer(deflated, 'deflated');
  assert.ok(z2.entries.every((e) => e.method === 8));
  checkAgainstKnown(flattenTensors(parsePth(deflated, 'deflated').object), 'deflated zip');
  // ZIP64 extra fields on every entry + ZIP64 end record (what >4 GB checkpoints carry)
  const z64 = Buffer.concat(buildTorchZip(entries, { forceZip64: true }));
  const z3 = ZipReader.fromBuffer(z64, 'zip64');
  assert.deepEqual(z3.entries.map((e) => [e.name, e.size, e.crc32]), zip.entries.map((e) => [e.name, e.size, e.crc32]));
  for (const e of z3.entries) assert.equal(z3.dataOffset(e) % 64, 0);
  checkAgainstKnown(flattenTensors(parsePth(z64, 'zip64').object), 'zip64');
});

test('nested checkpoints: state dict found under netG / params / model; ambiguity is an error', () => {
  const sd = new Map<string, Value>([['w', contiguous('float32', Float32Array.from([1, 2]), [2])]]);
  for (const key of ['state_dict', 'params', 'model', 'netG', 'generator']) {
    const obj = new Map<string, Value>([['epoch', 3], ['optimizer', new Map<string, Value>([['lr', 0.5], ['m', contiguous('float32', Float32Array.from([9]), [1])]])], [key, sd]]);
    const got = readPthFromBytesSelect(legacyPthBytes(obj));
    assert.deepEqual([...got.keys()], ['w'], key);
  }
  const ambiguous = new Map<string, Value>([['a', sd], ['b', sd]]);
  assert.throws(() => readPthFromBytesSelect(legacyPthBytes(ambiguous)), /cannot tell which entry holds the state dict.*a, b/);
  // a dict with one tensor-holding entry and other plain values: that entry
  const single = new Map<string, Value>([['iteration', 100], ['weights', sd]]);
  assert.deepEqual([...readPthFromBytesSelect(legacyPthBytes(single)).keys()], ['w']);
});

function readPthFromBytesSelect(buf: Buffer): StateDict {
  const dir = tmpdir();
  try {
    const f = path.join(dir, 'x.pth');
    fs.writeFileSync(f, buf);
    return readPth(f);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

test('safetensors round trip (writeSafetensors/readSafetensors, saveCheckpoint/loadCheckpoint) keeps exact bytes', () => {
  const dir = tmpdir();
  try {
    const sd: StateDict = new Map();
    for (const [k, v] of knownViews()) sd.set(k, { dtype: v.storage.dtype, shape: v.shape, data: contiguousData(v) });
    const f = path.join(dir, 'w.safetensors');
    writeSafetensors(f, sd, { source: 'test' });
    const back = readSafetensors(f);
    assert.deepEqual(back.metadata, { source: 'test' });
    checkAgainstKnown(back.tensors, 'safetensors');
    const f2 = path.join(dir, 'ckpt.bin'); // extension is irrelevant: detection is by magic bytes
    saveCheckpoint(f2, sd, { step: '7' });
    checkAgainstKnown(loadCheckpoint(f2), 'saveCheckpoint', '');
    for (const [k, t] of back.tensors) assert.ok(bytesOf(t.data).equals(bytesOf(sd.get(k)!.data)), k);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

function contiguousData(v: ViewSpec): HostData {
  const vals = gather(v);
  switch (v.storage.dtype) {
    case 'float32': return Float32Array.from(vals);
    case 'float64': return Float64Array.from(vals);
    case 'float16': case 'bfloat16': return Uint16Array.from(vals);
    case 'int64': return BigInt64Array.from(Array.from(v.storage.data as BigInt64Array).slice(v.offset, v.offset + vals.length));
    case 'int32': return Int32Array.from(vals);
    case 'int16': return Int16Array.from(vals);
    case 'int8': return Int8Array.from(vals);
    case 'uint8': case 'bool': return Uint8Array.from(vals);
  }
}

class Net extends Module {
  readonly body = this.registerModule('body', new Sequential([new Conv2d(3, 4, 3, { padding: 1 }), new LeakyReLU(0.2), new Conv2d(4, 2, 1)]));
  readonly bn = this.registerModule('bn', new BatchNorm(2));
  readonly head = this.registerModule('head', new Linear(2, 5));
}

test('Module.stateDict() → writePth → readPth → loadStateDict gives identical parameters', async () => {
  await useBackend('cpu');
  const dir = tmpdir();
  const a = new Net();
  const b = new Net();
  try {
    applyDetInit(a);
    // a non-zero integer buffer, to see it survive as int64
    a.bn.numBatchesTracked.assign(tf.scalar(42, 'int32'));
    const sd = a.stateDict();
    const f = path.join(dir, 'net.pth');
    writePth(f, sd);
    const back = readPth(f);
    assert.deepEqual([...back.keys()], [...sd.keys()]);
    assert.equal(back.get('bn.num_batches_tracked')!.dtype, 'int64');
    // b starts different
    assert.ok(!bytesOf(b.stateDict().get('body.0.weight')!.data).equals(bytesOf(sd.get('body.0.weight')!.data)));
    b.loadStateDict(back);
    const got = b.stateDict();
    for (const [k, t] of sd) {
      const u = got.get(k)!;
      assert.equal(u.dtype, t.dtype, k);
      assert.deepEqual(u.shape, t.shape, k);
      assert.ok(bytesOf(u.data).equals(bytesOf(t.data)), `${k}: bit-identical`);
    }
    assert.equal((got.get('bn.num_batches_tracked')!.data as BigInt64Array)[0], 42n);
  } finally {
    a.dispose();
    b.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a torch-style OrderedDict with _metadata round-trips it (BUILD state)', () => {
  const sd = new PyDict('collections.OrderedDict');
  sd.set('w', { dtype: 'float32', shape: [2], data: Float32Array.from([1, 2]) } as HostTensor);
  sd.attrs = new Map([['_metadata', new Map<unknown, unknown>([['', new Map([['version', 1]])]])]]);
  const buf = Buffer.concat(serializePth(sd));
  const obj = parsePth(buf, 'meta').object as PyDict;
  assert.deepEqual([...obj.keys()], ['w']);
  const meta = obj.attrs!.get('_metadata') as Map<unknown, unknown>;
  assert.equal((meta.get('') as Map<unknown, unknown>).get('version'), 1);
});
