/** Hostile files shared by the rows: weights that must be refused before they cost memory. */
import { buildTorchZip } from '../../lib/io/zip';
import { PickleBytes, rezipDeflated } from '../fixtures/pth-writer';
import type { Sandbox } from './harness';

let bomb: Buffer | undefined;

/**
 * bomb.pth (~80 kB): a state dict whose one storage is 80 MB of zeros, deflated. The pickle
 * references all of it, so only the inflate budget stops it.
 */
export function bombPth(s: Sandbox): string {
  const numel = 20_000_000;
  bomb ??= rezipDeflated([
    {
      name: 'archive/data.pkl',
      data: new PickleBytes()
        .op(0x80, 2).global('collections', 'OrderedDict').op(0x29, 0x52, 0x28)
        .binunicode('w').global('torch._utils', '_rebuild_tensor_v2').op(0x28, 0x28)
        .binunicode('storage').global('torch', 'FloatStorage').binunicode('0').binunicode('cpu').op(0x4a).u32(numel).op(0x74, 0x51)
        .op(0x4b, 0, 0x4b, 4, 0x85, 0x4b, 1, 0x85, 0x89).global('collections', 'OrderedDict').op(0x29, 0x52, 0x74, 0x52, 0x75, 0x2e).bytes(),
    },
    { name: 'archive/data/0', data: new Uint8Array(numel * 4) },
    { name: 'archive/version', data: Buffer.from('3\n') },
  ]);
  return s.write('bomb.pth', bomb);
}

/** bad.safetensors: a tensor whose data_offsets point back into the header. */
export function badSafetensors(s: Sandbox): string {
  const json = Buffer.from(JSON.stringify({ 'fnet.conv1.weight': { dtype: 'F32', shape: [16], data_offsets: [-64, 0] } }));
  const b = Buffer.alloc(8 + json.length + 64);
  b.writeBigUInt64LE(BigInt(json.length));
  json.copy(b, 8);
  return s.write('bad.safetensors', b);
}

/** lie.pth: a torch zip whose pickle announces a 2 GB string in a few bytes. */
export function lyingPickle(s: Sandbox): string {
  const pkl = new PickleBytes().op(0x80, 2, 0x58).u32(0x7ffffff0).ascii('abc').op(0x2e).bytes();
  return s.write('lie.pth', Buffer.concat(buildTorchZip([{ name: 'archive/data.pkl', data: pkl }, { name: 'archive/version', data: Buffer.from('3\n') }])));
}

/** cut.pth: the first half of a valid torch zip (an interrupted download). */
export function truncatedPth(s: Sandbox): string {
  const zip = Buffer.concat(buildTorchZip([
    { name: 'archive/data.pkl', data: new PickleBytes().op(0x80, 2, 0x7d, 0x2e).bytes() },
    { name: 'archive/data/0', data: new Uint8Array(4096) },
    { name: 'archive/version', data: Buffer.from('3\n') },
  ]));
  return s.write('cut.pth', zip.subarray(0, zip.length >> 1));
}
