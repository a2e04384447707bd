/**
 * safetensors: u64-LE header length N | N bytes of JSON header | raw little-endian data.
 * The project's own checkpoint format; also the format of the shared parity fixtures.
 */
import * as fs from 'fs';
import { DType, HostData, HostTensor, StateDict, numel } from './host-tensor';
import { writeFileAtomic } from './atomic';

const CODES: Record<string, DType> = {
  F64: 'float64', F32: 'float32', F16: 'float16', BF16: 'bfloat16',
  I64: 'int64', I32: 'int32', I16: 'int16', I8: 'int8', U8: 'uint8', BOOL: 'bool',
};
const NAMES: Record<DType, string> = Object.fromEntries(Object.entries(CODES).map(([k, v]) => [v, k])) as Record<DType, string>;
const BYTES: Record<DType, number> = {
  float64: 8, float32: 4, float16: 2, bfloat16: 2, int64: 8, int32: 4, int16: 2, int8: 1, uint8: 1, bool: 1,
};

export function dtypeBytes(d: DType): number {
  return BYTES[d];
}

/** Copies `nbytes` little-endian bytes into a typed array of `dtype` (aligned copy). */
export function typedFromBytes(dtype: DType, bytes: Uint8Array): HostData {
  const copy = new Uint8Array(bytes.byteLength);
  copy.set(bytes);
  const buf = copy.buffer;
  switch (dtype) {
    case 'float64': return new Float64Array(buf);
    case 'float32': return new Float32Array(buf);
    case 'float16': case 'bfloat16': return new Uint16Array(buf);
    case 'int64': return new BigInt64Array(buf);
    case 'int32': return new Int32Array(buf);
    case 'int16': return new Int16Array(buf);
    case 'int8': return new Int8Array(buf);
    case 'uint8': case 'bool': return copy;
  }
}

export interface SafetensorsFile {
  tensors: StateDict;
  metadata: Record<string, string>;
}

/** Parses safetensors bytes; `source` names the file in errors. */
export function parseSafetensors(buf: Uint8Array, source = 'safetensors data'): SafetensorsFile {
  if (buf.byteLength < 8) throw new Error(`${source}: too short to be a safetensors file (${buf.byteLength} bytes)`);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const n = Number(view.getBigUint64(0, true));
  if (n <= 0 || 8 + n > buf.byteLength) throw new Error(`${source}: header length ${n} exceeds file size ${buf.byteLength} (truncated or not safetensors)`);
  let header: Record<string, any>;
  try {
    header = JSON.parse(Buffer.from(buf.subarray(8, 8 + n)).toString('utf8'));
  } catch (e) {
    throw new Error(`${source}: header is not valid JSON (${(e as Error).message})`);
  }
  const dataStart = 8 + n;
  const tensors: StateDict = new Map();
  let metadata: Record<string, string> = {};
  for (const [name, info] of Object.entries(header)) {
    if (name === '__metadata__') {
      metadata = info as Record<string, string>;
      continue;
    }
    const dtype = CODES[info.dtype];
    if (!dtype) throw new Error(`${source}: tensor "${name}" has unsupported dtype ${info.dtype}`);
    const [begin, end] = info.data_offsets as [number, number];
    const shape = info.shape as number[];
    if (end - begin !== numel(shape) * BYTES[dtype]) throw new Error(`${source}: tensor "${name}" byte range ${begin}..${end} does not match shape [${shape}] ${info.dtype}`);
    if (dataStart + end > buf.byteLength) throw new Error(`${source}: tensor "${name}" extends past the end of the file (truncated)`);
    tensors.set(name, { dtype, shape, data: typedFromBytes(dtype, buf.subarray(dataStart + begin, dataStart + end)) });
  }
  return { tensors, metadata };
}

export function readSafetensors(file: string): SafetensorsFile {
  let buf: Buffer;
  try {
    buf = fs.readFileSync(file);
  } catch (e) {
    throw new Error(`cannot read ${file}: ${(e as Error).message}`);
  }
  return parseSafetensors(buf, file);
}

/** Serialises tensors (in map order) and string metadata. */
export function serializeSafetensors(tensors: StateDict, metadata: Record<string, string> = {}): Buffer[] {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) header.__metadata__ = metadata;
  let offset = 0;
  const datas: Uint8Array[] = [];
  for (const [name, t] of tensors) {
    const nbytes = numel(t.shape) * BYTES[t.dtype];
    if (t.data.byteLength !== nbytes) throw new Error(`tensor "${name}": ${t.data.byteLength} bytes for shape [${t.shape}] ${t.dtype}`);
    header[name] = { dtype: NAMES[t.dtype], shape: t.shape, data_offsets: [offset, offset + nbytes] };
    datas.push(new Uint8Array(t.data.buffer, t.data.byteOffset, nbytes));
    offset += nbytes;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
  return [len, Buffer.from(json, 'utf8'), ...datas.map((d) => Buffer.from(d.buffer, d.byteOffset, d.byteLength))];
}

/** Writes a safetensors file atomically. */
export function writeSafetensors(file: string, tensors: StateDict, metadata: Record<string, string> = {}): void {
  writeFileAtomic(file, ...serializeSafetensors(tensors, metadata));
}
