/** Reading the real torch.save files in shared/fixtures/pth (torch 1.13, zip and legacy formats). */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { FIXTURES, hasShared } from '../helpers';
import { HostTensor, halfToFloat } from '../../lib/io/host-tensor';
import { PyDict } from '../../lib/io/pickle';
import { flattenTensors, readPth, readPthObject, serializePth, writePth } from '../../lib/io/pth';
import { detectCheckpointFormat, loadCheckpoint } from '../../lib/io/checkpoint';
import { ZipReader } from '../../lib/io/zip';

const DIR = path.join(FIXTURES, 'pth');
const skip = hasShared ? false : `shared fixtures not found at ${FIXTURES}`;

interface Expected {
  name: string;
  dtype: string;
  shape: number[];
  stride: number[];
  storage_offset: number;
  storage_group: number;
  first: Array<number | boolean>;
  sum: number;
}
interface ExpectedFile {
  format: 'zip' | 'legacy';
  bytes: number;
  top_level: string;
  non_tensor_values?: Record<string, unknown>;
  zip_members?: string[];
  tensors: Expected[];
}

function expected(): Record<string, ExpectedFile> {
  return JSON.parse(fs.readFileSync(path.join(DIR, 'expected.json'), 'utf8')).files;
}

/** Element values as JS numbers (float16 decoded exactly, bool as 0/1). */
function values(t: HostTensor): number[] {
  if (t.dtype === 'float16') return Array.from(t.data as Uint16Array, halfToFloat);
  return Array.from(t.data as ArrayLike<number | bigint>, (x) => Number(x));
}

test('every fixture .pth: names, dtypes, shapes, first values and sums match expected.json', { skip }, () => {
  const files = expected();
  assert.equal(Object.keys(files).length, 4);
  for (const [file, exp] of Object.entries(files)) {
    const full = path.join(DIR, file);
    assert.equal(fs.statSync(full).size, exp.bytes, file);
    const { format, object } = readPthObject(full);
    assert.equal(format, exp.format, file);
    assert.ok(object instanceof PyDict, file);
    assert.equal(object.pyClass, exp.top_level === 'OrderedDict' ? 'collections.OrderedDict' : 'dict', file);
    for (const [k, v] of Object.entries(exp.non_tensor_values ?? {})) assert.equal(object.get(k), v, `${file}: ${k}`);
    const flat = flattenTensors(object);
    assert.deepEqual([...flat.keys()], exp.tensors.map((t) => t.name), `${file}: tensor names in order`);
    for (const e of exp.tensors) {
      const t = flat.get(e.name)!;
      const what = `${file}: ${e.name}`;
      assert.equal(t.dtype, e.dtype, what);
      assert.deepEqual(t.shape, e.shape, what);
      assert.equal(t.data.length, e.shape.reduce((a, b) => a * b, 1), what);
      const v = values(t);
      // first: exact (float32 values are exact doubles of the stored floats; float16 exact too)
      assert.deepEqual(v.slice(0, e.first.length), e.first.map(Number), `${what}: first values`);
      let sum = 0;
      for (const x of v) sum += x;
      assert.ok(Math.abs(sum - e.sum) <= 1e-9 * Math.max(1, Math.abs(e.sum)), `${what}: sum ${sum} vs ${e.sum}`);
    }
  }
});

test('strided views and shared storages of the fixtures are materialised in logical order', { skip }, () => {
  for (const file of ['tiny_features_zip.pth', 'tiny_features_legacy.pth']) {
    const flat = flattenTensors(readPthObject(path.join(DIR, file)).object);
    const base = flat.get('extras.base')!.data as Float32Array; // [6, 5] contiguous
    const transposed = flat.get('extras.transposed')!.data as Float32Array; // [5, 6] stride [1, 5]
    const rowSlice = flat.get('extras.row_slice')!.data as Float32Array; // [2, 5] offset 10
    for (let i = 0; i < 5; i++) for (let j = 0; j < 6; j++) assert.equal(transposed[i * 6 + j], base[j * 5 + i], `${file} transposed[${i},${j}]`);
    assert.deepEqual(Array.from(rowSlice), Array.from(base.subarray(10, 20)), `${file} row_slice = base[2:4]`);
    // Shared storage: materialised tensors must not alias each other.
    assert.notEqual(base.buffer, rowSlice.buffer);
  }
});

test('zip and legacy fixtures hold identical tensors', { skip }, () => {
  for (const stem of ['tiny_convs', 'tiny_features']) {
    const a = flattenTensors(readPthObject(path.join(DIR, `${stem}_zip.pth`)).object);
    const b = flattenTensors(readPthObject(path.join(DIR, `${stem}_legacy.pth`)).object);
    assert.deepEqual([...a.keys()], [...b.keys()]);
    for (const [k, t] of a) {
      assert.equal(t.dtype, b.get(k)!.dtype, k);
      assert.deepEqual(Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength), Buffer.from(b.get(k)!.data.buffer, b.get(k)!.data.byteOffset, b.get(k)!.data.byteLength), k);
    }
  }
});

test('readPth picks the nested state_dict; loadCheckpoint strips module. (DataParallel)', { skip }, () => {
  const plain = readPth(path.join(DIR, 'tiny_convs_zip.pth'));
  const nested = readPth(path.join(DIR, 'tiny_features_legacy.pth'));
  // keys exactly as stored
  assert.deepEqual([...nested.keys()], [...plain.keys()].map((k) => `module.${k}`));
  assert.equal(detectCheckpointFormat(path.join(DIR, 'tiny_features_zip.pth')), 'pth-zip');
  assert.equal(detectCheckpointFormat(path.join(DIR, 'tiny_features_legacy.pth')), 'pth-legacy');
  const loaded = loadCheckpoint(path.join(DIR, 'tiny_features_zip.pth'));
  assert.deepEqual([...loaded.keys()], [...plain.keys()]);
  for (const [k, t] of plain) assert.deepEqual(Array.from(loaded.get(k)!.data as Float32Array), Array.from(t.data as Float32Array), k);
  assert.equal(loaded.get('1.num_batches_tracked')!.dtype, 'int64');
  assert.equal((loaded.get('1.num_batches_tracked')!.data as BigInt64Array)[0], 0n);
  // explicit key selection
  const extras = readPth(path.join(DIR, 'tiny_features_zip.pth'), { key: 'extras' });
  assert.deepEqual([...extras.keys()], ['half', 'double', 'int64', 'bool', 'scalar', 'transposed', 'row_slice', 'base', 'uint8']);
});

test('the zip archive members and 64-byte data alignment are as torch wrote them', { skip }, () => {
  for (const [file, exp] of Object.entries(expected())) {
    if (exp.format !== 'zip') continue;
    const zip = ZipReader.open(path.join(DIR, file));
    try {
      assert.deepEqual(zip.entries.map((e) => e.name).sort(), [...exp.zip_members!].sort());
      for (const e of zip.entries) assert.equal(zip.dataOffset(e) % 64, 0, e.name);
      assert.equal(Buffer.from(zip.read(`${file.replace('.pth', '')}/version`)).toString(), '3\n');
    } finally {
      zip.close();
    }
  }
});

test('writePth reproduces torch 1.13 output byte for byte (re-serialising the zip fixtures)', { skip }, () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pth-fixture-'));
  try {
    for (const file of ['tiny_convs_zip.pth', 'tiny_features_zip.pth']) {
      const orig = fs.readFileSync(path.join(DIR, file));
      // views: keep storages shared and strides as stored, so the pickle can be re-emitted exactly
      const { object } = readPthObject(path.join(DIR, file), { views: true });
      const archiveName = file.replace('.pth', ''); // torch names the archive after the file stem
      const bytes = Buffer.concat(serializePth(object, { archiveName }));
      assert.equal(bytes.length, orig.length, file);
      assert.ok(bytes.equals(orig), `${file}: re-serialised bytes differ from torch's`);
    }
    // A plain state dict through writePth: same pickle as torch for tiny_convs minus _metadata.
    const sd = readPth(path.join(DIR, 'tiny_convs_zip.pth'));
    const out = path.join(tmp, 'tiny_convs_zip.pth');
    writePth(out, sd, { archiveName: 'tiny_convs_zip' });
    const back = readPth(out);
    assert.deepEqual([...back.keys()], [...sd.keys()]);
    const origPkl = Buffer.from(ZipReader.fromBuffer(fs.readFileSync(path.join(DIR, 'tiny_convs_zip.pth'))).read('tiny_convs_zip/data.pkl'));
    const ourPkl = Buffer.from(ZipReader.fromBuffer(fs.readFileSync(out)).read('tiny_convs_zip/data.pkl'));
    // torch's ends with the _metadata BUILD; ours stops after the tensors (SETITEMS, STOP)
    const cut = ourPkl.length - 1;
    assert.ok(ourPkl.subarray(0, cut).equals(origPkl.subarray(0, cut)), 'pickle prefix equals torch 1.13');
    assert.equal(ourPkl[cut], 0x2e);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});
