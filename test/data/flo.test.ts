import { after, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { decodeFlo, encodeFlo, readFlo, resizeFlow, statFlo, writeFlo, Flow } from '../../lib/io/flo';
import { floatToHalf, halfToFloat } from '../../lib/io/host-tensor';

const dirs: string[] = [];
after(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

function tmpdir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'pp-flo-'));
  dirs.push(d);
  return d;
}

function sampleFlow(w: number, h: number): Flow {
  const data = new Float32Array(w * h * 2);
  for (let i = 0; i < data.length; i++) data[i] = Math.fround(Math.sin(i * 0.37) * 40 + (i % 7) * 0.125);
  return { width: w, height: h, data };
}

test('float32 (Middlebury) .flo round-trips exactly with the standard byte layout', () => {
  const dir = tmpdir();
  const f = sampleFlow(5, 3);
  const file = path.join(dir, 'a.flo');
  writeFlo(file, f, 'float32');
  const bytes = fs.readFileSync(file);
  assert.equal(bytes.length, 12 + 5 * 3 * 8);
  assert.equal(bytes.subarray(0, 4).toString('latin1'), 'PIEH');
  assert.equal(bytes.readFloatLE(0), 202021.25); // Middlebury magic as a float
  assert.equal(bytes.readInt32LE(4), 5);
  assert.equal(bytes.readInt32LE(8), 3);
  assert.equal(bytes.readFloatLE(12), f.data[0]); // u of pixel (0,0)
  assert.equal(bytes.readFloatLE(16), f.data[1]); // v of pixel (0,0)
  const r = readFlo(file);
  assert.equal(r.encoding, 'float32');
  assert.deepEqual([r.width, r.height], [5, 3]);
  assert.deepEqual(Array.from(r.data), Array.from(f.data));
  assert.deepEqual(fs.readdirSync(dir), ['a.flo'], 'no temporary file left behind');
});

test('float16 (official ProPainter) .flo: same header, half values, detected by file size', () => {
  const dir = tmpdir();
  const f = sampleFlow(4, 6);
  const file = path.join(dir, 'b.flo');
  writeFlo(file, f); // default = official float16
  const bytes = fs.readFileSync(file);
  assert.equal(bytes.length, 12 + 4 * 6 * 4);
  assert.equal(bytes.subarray(0, 4).toString('latin1'), 'PIEH');
  assert.equal(bytes.readUInt16LE(12), floatToHalf(f.data[0]));
  const r = readFlo(file);
  assert.equal(r.encoding, 'float16');
  for (let i = 0; i < f.data.length; i++) assert.equal(r.data[i], halfToFloat(floatToHalf(f.data[i])));
  // values representable in half round-trip exactly, and re-encoding is byte-identical
  assert.deepEqual(Buffer.from(encodeFlo(r, 'float16')), bytes);
  assert.deepEqual(statFlo(file), { width: 4, height: 6, encoding: 'float16' });
});

test('a hand-made official float16 file decodes (integers, halves, negatives)', () => {
  const vals = [1, -2, 0.5, -0.25, 3, 1024];
  const buf = Buffer.alloc(12 + vals.length * 2);
  buf.write('PIEH', 0, 'latin1');
  buf.writeInt32LE(3, 4);
  buf.writeInt32LE(1, 8);
  vals.forEach((v, i) => buf.writeUInt16LE(floatToHalf(v), 12 + 2 * i));
  const r = decodeFlo(buf, 'hand.flo');
  assert.equal(r.encoding, 'float16');
  assert.deepEqual(Array.from(r.data), vals);
});

test('bad .flo files fail with the file name', () => {
  const dir = tmpdir();
  const bad = path.join(dir, 'bad.flo');
  fs.writeFileSync(bad, Buffer.from('NOPE00000000'));
  assert.throws(() => readFlo(bad), (e: Error) => e.message.startsWith(bad) && /PIEH/.test(e.message));
  const short = path.join(dir, 'short.flo');
  const ok = Buffer.from(encodeFlo(sampleFlow(3, 3), 'float32'));
  fs.writeFileSync(short, ok.subarray(0, ok.length - 5));
  assert.throws(() => readFlo(short), (e: Error) => e.message.startsWith(short) && /size/.test(e.message));
  assert.throws(() => readFlo(path.join(dir, 'missing.flo')), /missing\.flo/);
});

test('resizeFlow scales vectors by the size ratio and keeps constant fields constant', () => {
  const w = 8;
  const h = 4;
  const data = new Float32Array(w * h * 2);
  for (let i = 0; i < w * h; i++) {
    data[2 * i] = 2;
    data[2 * i + 1] = -1;
  }
  const r = resizeFlow({ width: w, height: h, data }, 8, 16);
  assert.deepEqual([r.width, r.height], [16, 8]);
  for (let i = 0; i < 16 * 8; i++) {
    assert.equal(r.data[2 * i], 4);
    assert.equal(r.data[2 * i + 1], -2);
  }
  // same size: an unchanged copy
  const same = resizeFlow({ width: w, height: h, data }, h, w);
  assert.deepEqual(Array.from(same.data), Array.from(data));
  assert.notEqual(same.data, data);
  // bilinear, half-pixel centres (cv2.INTER_LINEAR): a ramp u = x upsampled ×2 along x
  const ramp = new Float32Array(4 * 1 * 2);
  for (let x = 0; x < 4; x++) ramp[2 * x] = x;
  const up = resizeFlow({ width: 4, height: 1, data: ramp }, 1, 8);
  // source x = (dx + 0.5)/2 − 0.5, clamped at the borders; values ×2 (new/old width)
  const expect = [0, 0.25, 0.75, 1.25, 1.75, 2.25, 2.75, 3].map((v) => v * 2);
  assert.deepEqual(Array.from({ length: 8 }, (_, i) => up.data[2 * i]), expect);
});

test('decoding works from unaligned buffers too (both encodings)', () => {
  const f = sampleFlow(3, 2);
  for (const enc of ['float32', 'float16'] as const) {
    const bytes = encodeFlo(f, enc);
    const shifted = new Uint8Array(bytes.length + 1);
    shifted.set(bytes, 1);
    const a = decodeFlo(bytes.subarray(0), 'a');
    const b = decodeFlo(shifted.subarray(1), 'b');
    assert.deepEqual(Array.from(b.data), Array.from(a.data));
  }
});
