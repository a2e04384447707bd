/**
 * Hostile and broken checkpoints: code-execution payloads, unknown opcodes, lying length fields,
 * truncation, corruption. Each must be rejected with an error naming the file and the problem,
 * without running anything (the payloads would create a marker file) and without crashing.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readPth, writePth } from '../../lib/io/pth';
import { loadCheckpoint } from '../../lib/io/checkpoint';
import { StateDict } from '../../lib/io/host-tensor';
import { buildTorchZip } from '../../lib/io/zip';
import { PickleBytes, legacyFraming, legacyPthBytes, rezipDeflated } from '../fixtures/pth-writer';
import { seeded } from '../helpers';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pth-evil-'));
const marker = path.join(dir, 'PWNED');
const shell = `touch ${marker}`;
const py = `open(${JSON.stringify(marker)}, "w").write("x")`;

process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));

function zipPth(name: string, pkl: Uint8Array, storages: Array<[string, Uint8Array]> = []): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, Buffer.concat(buildTorchZip([
    { name: 'archive/data.pkl', data: pkl },
    ...storages.map(([k, d]) => ({ name: `archive/data/${k}`, data: d })),
    { name: 'archive/version', data: Buffer.from('3\n') },
  ])));
  return file;
}

function legacyPth(name: string, main: Uint8Array): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, legacyFraming(main));
  return file;
}

/** The beginning of a valid torch state dict pickle: OrderedDict() with one float tensor 'w' of storage '0'. */
function validPrefix(): PickleBytes {
  return new PickleBytes()
    .op(0x80, 2).global('collections', 'OrderedDict').op(0x29, 0x52, 0x28)
    .binunicode('w').global('torch._utils', '_rebuild_tensor_v2').op(0x28, 0x28)
    .binunicode('storage').global('torch', 'FloatStorage').binunicode('0').binunicode('cpu').op(0x4b, 4, 0x74, 0x51)
    .op(0x4b, 0, 0x4b, 4, 0x85, 0x4b, 1, 0x85, 0x89).global('collections', 'OrderedDict').op(0x29, 0x52, 0x74, 0x52);
}

function rejects(file: string, re: RegExp, via: 'readPth' | 'loadCheckpoint' = 'readPth'): void {
  assert.throws(
    () => (via === 'readPth' ? readPth(file) : loadCheckpoint(file)),
    (e: unknown) => {
      assert.ok(e instanceof Error, 'an Error is thrown');
      assert.ok(e.message.includes(file), `message names the file: ${e.message}`);
      assert.match(e.message, re);
      return true;
    },
  );
  assert.equal(fs.existsSync(marker), false, 'payload did not run');
}

test('GLOBAL os.system + REDUCE is refused (zip and legacy)', () => {
  const pkl = new PickleBytes().op(0x80, 2).global('os', 'system').binunicode(shell).op(0x85, 0x52, 0x2e).bytes();
  rejects(zipPth('os-system.pth', pkl), /refusing to load Python global 'os\.system' at byte 2 \(opcode GLOBAL\)/);
  rejects(legacyPth('os-system-legacy.pth', pkl), /refusing to load Python global 'os\.system'/);
  rejects(zipPth('os-system2.pth', pkl), /'os\.system'/, 'loadCheckpoint');
});

test('STACK_GLOBAL builtins.eval (protocol 4) is refused', () => {
  const pkl = new PickleBytes().op(0x80, 4).shortBinunicode('builtins').shortBinunicode('eval').op(0x93)
    .shortBinunicode(py).op(0x85, 0x52, 0x2e).bytes();
  rejects(zipPth('eval.pth', pkl), /refusing to load Python global 'builtins\.eval' at byte \d+ \(opcode STACK_GLOBAL\)/);
});

test('INST posix.system, NEWOBJ subprocess.Popen, EXT1, and a payload after valid tensors are refused', () => {
  const inst = new PickleBytes().op(0x80, 2, 0x28).binunicode(shell).op(0x69).ascii('posix\nsystem\n').op(0x2e).bytes();
  rejects(legacyPth('inst.pth', inst), /'posix\.system'.*opcode INST/);
  const newobj = new PickleBytes().op(0x80, 2).global('subprocess', 'Popen').binunicode(shell).op(0x85, 0x81, 0x2e).bytes();
  rejects(zipPth('popen.pth', newobj), /'subprocess\.Popen'/);
  const ext = new PickleBytes().op(0x80, 2, 0x82, 1, 0x29, 0x52, 0x2e).bytes();
  rejects(zipPth('ext.pth', ext), /extension-registry global \(code 1\)/);
  // a state dict whose second value is a payload
  const late = validPrefix().binunicode('x').global('os', 'system').binunicode(shell).op(0x85, 0x52, 0x75, 0x2e).bytes();
  rejects(zipPth('late.pth', late, [['0', new Uint8Array(16)]]), /'os\.system'/);
});

test('whitelisted globals used the wrong way are refused (REDUCE on a storage class, BUILD on a tensor)', () => {
  const reduceStorage = new PickleBytes().op(0x80, 2).global('torch', 'FloatStorage').op(0x29, 0x52, 0x2e).bytes();
  rejects(zipPth('reduce-storage.pth', reduceStorage), /REDUCE of torch\.FloatStorage is not allowed/);
  const buildTensor = validPrefix().op(0x7d, 0x62, 0x75, 0x2e).bytes(); // BUILD {} on the tensor
  rejects(zipPth('build-tensor.pth', buildTensor, [['0', new Uint8Array(16)]]), /BUILD \(setting object state\) on a tensor is not allowed/);
  const reduceString = new PickleBytes().op(0x80, 2).binunicode('os.system').op(0x29, 0x52, 0x2e).bytes();
  rejects(zipPth('reduce-string.pth', reduceString), /REDUCE on the string "os\.system", which is not an allowed callable/);
  const notStorage = new PickleBytes().op(0x80, 2).binunicode('module').op(0x85, 0x51, 0x2e).bytes();
  rejects(zipPth('pid-module.pth', notStorage), /persistent id 'module' is not a storage/);
});

test('unknown opcodes are reported with the byte and offset', () => {
  const pkl = new PickleBytes().op(0x80, 2, 0x7d, 0xff, 0x2e).bytes();
  rejects(zipPth('unknown-op.pth', pkl), /unknown pickle opcode 0xff .* at byte 3/);
  rejects(legacyPth('unknown-op-legacy.pth', pkl), /unknown pickle opcode 0xff/);
});

test('length fields larger than the file are rejected without allocating', () => {
  const unicode = new PickleBytes().op(0x80, 2, 0x58).u32(0x7ffffff0).ascii('abc').op(0x2e).bytes();
  rejects(zipPth('len-unicode.pth', unicode), /BINUNICODE of 2147483632 bytes at byte 2 .* exceeds the \d+ bytes that remain/);
  const legacy = legacyPth('len-legacy.pth', unicode);
  rejects(legacy, new RegExp(`BINUNICODE of 2147483632 bytes .*the file is ${fs.statSync(legacy).size} bytes`));
  const bytes8 = new PickleBytes().op(0x80, 4, 0x8e).u64(1n << 62n).op(0x2e).bytes();
  rejects(zipPth('len-bytes8.pth', bytes8), /BINBYTES8 of 4611686018427387904 bytes .* larger than the data/);
  const frame = new PickleBytes().op(0x80, 4, 0x95).u64(0xffffffffffffn).op(0x4e, 0x2e).bytes();
  rejects(zipPth('len-frame.pth', frame), /frame of 281474976710655 bytes/);
  // a storage whose numel claims more than the archive holds
  const big = new PickleBytes()
    .op(0x80, 2).global('torch._utils', '_rebuild_tensor_v2').op(0x28, 0x28)
    .binunicode('storage').global('torch', 'FloatStorage').binunicode('0').binunicode('cpu').op(0x4a).u32(1 << 30).op(0x74, 0x51)
    .op(0x4b, 0, 0x4b, 4, 0x85, 0x4b, 1, 0x85, 0x89, 0x4e, 0x74, 0x52, 0x2e).bytes();
  rejects(zipPth('numel.pth', big, [['0', new Uint8Array(16)]]), /storage "0" has 16 bytes, needs 4294967296/);
  // a view reaching past its storage, and a stride-0 expansion to 4 TB
  const view = (shape: number[], stride: number[]) => {
    const p = new PickleBytes().op(0x80, 2).global('torch._utils', '_rebuild_tensor_v2').op(0x28, 0x28)
      .binunicode('storage').global('torch', 'FloatStorage').binunicode('0').binunicode('cpu').op(0x4b, 4, 0x74, 0x51, 0x4b, 0, 0x28);
    for (const d of shape) p.op(0x4a).u32(d);
    p.op(0x74, 0x28);
    for (const d of stride) p.op(0x4a).u32(d);
    return p.op(0x74, 0x89, 0x4e, 0x74, 0x52, 0x2e).bytes();
  };
  rejects(zipPth('oob.pth', view([3, 2], [2, 1]), [['0', new Uint8Array(16)]]), /reads element 5 of a 4-element storage "0" \(corrupt file\)/);
  rejects(zipPth('expand.pth', view([1000000, 1000000], [0, 0]), [['0', new Uint8Array(16)]]), /refusing to allocate/);
});

test('ZIP bombs: deflated entries inflate only what the pickle references, within a budget of the file size', () => {
  const deflated = (name: string, pkl: Uint8Array, storage: Uint8Array): string => {
    const file = path.join(dir, name);
    fs.writeFileSync(file, rezipDeflated([
      { name: 'archive/data.pkl', data: pkl },
      { name: 'archive/data/0', data: storage },
      { name: 'archive/version', data: Buffer.from('3\n') },
    ]));
    return file;
  };
  const stateDict = (numel: number) => new PickleBytes()
    .op(0x80, 2).global('collections', 'OrderedDict').op(0x29, 0x52, 0x28)
    .binunicode('w').global('torch._utils', '_rebuild_tensor_v2').op(0x28, 0x28)
    .binunicode('storage').global('torch', 'FloatStorage').binunicode('0').binunicode('cpu').op(0x4a).u32(numel).op(0x74, 0x51)
    .op(0x4b, 0, 0x4b, 4, 0x85, 0x4b, 1, 0x85, 0x89).global('collections', 'OrderedDict').op(0x29, 0x52, 0x74, 0x52, 0x75, 0x2e).bytes();
  // the pickle references 4 floats; the entry would inflate to 1 MB
  rejects(deflated('bomb-unreferenced.pth', stateDict(4), new Uint8Array(1_000_000)), /storage "0" inflates to 1000000 bytes but the pickle references 16 \(4 × float32\)/);
  // the pickle references all 80 MB: more than a ~80 kB file may inflate to
  const zeros = new Uint8Array(80_000_000); // deflates to ~80 kB
  rejects(deflated('bomb-storage.pth', stateDict(20_000_000), zeros), /entry "archive\/data\/0" inflates \d+ compressed bytes to 80000000, beyond the \d+ bytes allowed for a \d+-byte file \(a ZIP bomb\?\)/);
  // a pickle entry padded to 80 MB is refused before it is inflated
  const padded = Buffer.concat([stateDict(4), zeros]);
  rejects(deflated('bomb-pickle.pth', padded, new Uint8Array(16)), /entry "archive\/data\.pkl" inflates \d+ compressed bytes to 80000\d{3}, beyond/);
  // the same checkpoint, honestly deflated, loads
  const ok = readPth(deflated('deflated-ok.pth', stateDict(4), new Uint8Array(new Float32Array([1, 2, 3, 4]).buffer)));
  assert.deepEqual([...ok.get('w')!.data as Float32Array], [1, 2, 3, 4]);
});

test('deeply nested objects are rejected, not a stack overflow', () => {
  const p = new PickleBytes().op(0x80, 2);
  const depth = 200000;
  for (let i = 0; i < depth; i++) p.op(0x5d);
  for (let i = 0; i < depth - 1; i++) p.op(0x61);
  rejects(zipPth('deep.pth', p.op(0x2e).bytes()), /nested deeper than 1000 levels/);
});

function goodFile(name: string): string {
  const sd: StateDict = new Map([
    ['a.weight', { dtype: 'float32', shape: [64, 64], data: seeded(4096, 3) }],
    ['a.bias', { dtype: 'float32', shape: [64], data: seeded(64, 4) }],
  ]);
  const file = path.join(dir, name);
  writePth(file, sd);
  return file;
}

test('truncated and corrupted zip checkpoints', () => {
  const good = goodFile('good.pth');
  assert.equal(readPth(good).size, 2);
  const bytes = fs.readFileSync(good);
  const half = path.join(dir, 'half.pth');
  fs.writeFileSync(half, bytes.subarray(0, bytes.length >> 1));
  rejects(half, /truncated or corrupt ZIP archive: no end-of-central-directory record/, 'loadCheckpoint');
  const cut = path.join(dir, 'cut-tail.pth');
  fs.writeFileSync(cut, bytes.subarray(0, bytes.length - 30));
  rejects(cut, /truncated/);
  // flip one byte of tensor data: CRC-32 catches it
  const flipped = Buffer.from(bytes);
  flipped[4096] ^= 0x40;
  const bad = path.join(dir, 'flipped.pth');
  fs.writeFileSync(bad, flipped);
  rejects(bad, /CRC-32 mismatch in entry "archive\/data\/\d+".*corrupt/);
  // central directory offset pointing past the end (in the ZIP64 end record, which takes precedence)
  const spoiled = Buffer.from(bytes);
  const rec64 = spoiled.length - 22 - 20 - 56;
  assert.equal(spoiled.readUInt32LE(rec64), 0x06064b50);
  spoiled.writeBigUInt64LE(0x7fffff00n, rec64 + 48);
  const badCd = path.join(dir, 'bad-cd.pth');
  fs.writeFileSync(badCd, spoiled);
  rejects(badCd, /central directory \(\d+ bytes at 2147483392\) extends past the end/);
});

test('truncated legacy checkpoints and non-checkpoints', () => {
  const sd: StateDict = new Map([['w', { dtype: 'float32', shape: [256], data: seeded(256, 9) }]]);
  const good = path.join(dir, 'legacy-good.pth');
  const bytes = legacyPthBytes(sd);
  fs.writeFileSync(good, bytes);
  assert.equal(readPth(good).get('w')!.data.length, 256);
  const cut = path.join(dir, 'legacy-cut.pth');
  fs.writeFileSync(cut, bytes.subarray(0, bytes.length - 100));
  rejects(cut, /truncated: storage "\d+" \(1024 bytes at \d+\) extends past the end/);
  const cutPickle = path.join(dir, 'legacy-cut-pickle.pth');
  fs.writeFileSync(cutPickle, bytes.subarray(0, 200));
  rejects(cutPickle, /truncated|exceeds/);

  const write = (name: string, content: string | Uint8Array) => {
    const f = path.join(dir, name);
    fs.writeFileSync(f, content);
    return f;
  };
  rejects(write('empty.pth', ''), /empty file/, 'loadCheckpoint');
  rejects(write('page.pth', '<!DOCTYPE html><html><body>404</body></html>'), /HTML\/XML page .* failed download/, 'loadCheckpoint');
  rejects(write('lfs.pth', 'version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 123\n'), /Git LFS pointer/, 'loadCheckpoint');
  rejects(write('random.pth', Uint8Array.from(seeded(64, 5), (x) => Math.floor((x + 1) * 100) + 20)), /not a PyTorch checkpoint or safetensors file \(first bytes [0-9a-f ]+/, 'loadCheckpoint');
  // a plain pickle (not torch.save): right opcode, wrong magic
  rejects(write('plain.pkl', Buffer.from('80027d71002e', 'hex')), /a Python pickle but not a PyTorch checkpoint/, 'loadCheckpoint');
  rejects(write('plain2.pkl', Buffer.from('80027d71002e', 'hex')), /a Python pickle but not a PyTorch checkpoint/);
  // a zip that is not a checkpoint
  rejects(write('other.zip', Buffer.concat(buildTorchZip([{ name: 'readme.txt', data: Buffer.from('hi') }]))), /a ZIP archive but not a PyTorch checkpoint: no "<dir>\/data\.pkl"/);
  // safetensors with a header longer than the file
  const st = Buffer.alloc(16);
  st.writeBigUInt64LE(1000n);
  st.write('{"a":', 8);
  rejects(write('short.safetensors', st), /truncated safetensors file: header of 1000 bytes/, 'loadCheckpoint');
});

test('the payloads never ran', () => {
  assert.equal(fs.existsSync(marker), false);
});
