/** Hostile safetensors headers: each is refused with one line naming the file and the tensor. */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { parseSafetensors, serializeSafetensors } from '../../lib/io/safetensors';

/** A file whose header is `header` (JSON) followed by `data` zero bytes. */
function file(header: unknown, data = 16): Buffer {
  const json = Buffer.from(JSON.stringify(header));
  const b = Buffer.alloc(8 + json.length + data);
  b.writeBigUInt64LE(BigInt(json.length));
  json.copy(b, 8);
  return b;
}

const f32 = (shape: number[], data_offsets: unknown) => ({ dtype: 'F32', shape, data_offsets });

test('bad headers are refused naming the file and the tensor', () => {
  const cases: Array<[string, unknown, RegExp]> = [
    ['negative offsets', { a: f32([1], [-4, 0]) }, /^x\.st: tensor "a" has invalid data_offsets \[-4,0\]/],
    ['begin after end', { a: f32([0], [8, 4]) }, /tensor "a" has invalid data_offsets \[8,4\]/],
    ['fractional offsets', { a: f32([1], [0.5, 4.5]) }, /tensor "a" has invalid data_offsets/],
    ['offsets not a pair', { a: f32([1], [0, 4, 8]) }, /tensor "a" has invalid data_offsets \[0,4,8\]/],
    ['offsets past the data', { a: f32([8], [0, 32]) }, /tensor "a" extends past the end of the file \(bytes 0\.\.32 of a 16-byte data section/],
    ['negative shape', { a: f32([-1, -4], [0, 16]) }, /tensor "a" has an invalid shape \[-1,-4\]/],
    ['shape not an array', { a: f32('4' as unknown as number[], [0, 16]) }, /tensor "a" has an invalid shape "4"/],
    ['shape and bytes disagree', { a: f32([3], [0, 16]) }, /tensor "a" byte range 0\.\.16 does not match shape \[3\] F32/],
    ['null entry', { a: null }, /tensor "a" has no description \(null\)/],
    ['unknown dtype', { a: { dtype: 'constructor', shape: [1], data_offsets: [0, 4] } }, /tensor "a" has unsupported dtype "constructor"/],
    ['overlapping tensors', { a: f32([4], [0, 16]), b: f32([2], [8, 16]) }, /tensors "a" and "b" overlap \(bytes 0\.\.16 and 8\.\.16\)/],
    ['overlap behind an empty tensor', { a: f32([3], [0, 12]), e: f32([0], [4, 4]), b: f32([2], [8, 16]) }, /tensors "a" and "b" overlap/],
    ['header an array', [1, 2], /^x\.st: header is not a JSON object$/],
    ['metadata not strings', { __metadata__: { a: 1 } }, /^x\.st: __metadata__ must be an object of strings$/],
  ];
  for (const [what, header, re] of cases) {
    assert.throws(() => parseSafetensors(file(header), 'x.st'), (e: Error) => {
      assert.match(e.message, re, what);
      assert.ok(!e.message.includes('\n'), `${what}: one line`);
      return true;
    }, what);
  }
  const huge = Buffer.alloc(16);
  huge.writeBigUInt64LE(2n ** 63n);
  assert.throws(() => parseSafetensors(huge, 'x.st'), /^Error: x\.st: header length 9223372036854775808 exceeds file size 16/);
});

test('well-formed files still load: empty tensors, adjacent ranges, metadata', () => {
  const header = { __metadata__: { format: 'pt' }, a: f32([2], [0, 8]), e: f32([0, 3], [8, 8]), b: f32([2], [8, 16]) };
  const r = parseSafetensors(file(header), 'x.st');
  assert.deepEqual([...r.tensors.keys()], ['a', 'e', 'b']);
  assert.deepEqual(r.tensors.get('e')!.shape, [0, 3]);
  assert.deepEqual(r.metadata, { format: 'pt' });
  const round = parseSafetensors(Buffer.concat(serializeSafetensors(r.tensors, r.metadata)));
  assert.deepEqual([...round.tensors.keys()], ['a', 'e', 'b']);
});
