/**
 * safetensors: u64-LE header length N | N bytes of JSON header | raw little-endian data.
 * The project's own checkpoint format; also the format of the shared parity fixtures.
 */
import * as fs from 'fs';
import { DType, HostData, HostTensor, StateDict, numel } from './host-tensor';
import { fsReason, writeFileAtomic } from './atomic';

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

/** Largest JSON header accepted (the reference implementation's limit). */
export const MAX_HEADER_BYTES = 100_000_000;

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/**
 * Parses safetensors bytes; `source` names the file in errors. The header is untrusted: every
 * entry must be an object with a known dtype, a shape of non-negative integers and
 * `data_offsets` [begin, end] inside the data section matching the shape, and no two tensors may
 * share bytes.
 */
export function parseSafetensors(buf: Uint8Array, source = 'safetensors data'): SafetensorsFile {
  if (buf.byteLength < 8) throw new Error(`${source}: too short to be a safetensors file (${buf.byteLength} bytes)`);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const n64 = view.getBigUint64(0, true);
  if (n64 === 0n || 8n + n64 > BigInt(buf.byteLength)) throw new Error(`${source}: header length ${n64} exceeds file size ${buf.byteLength} (truncated or not safetensors)`);
  const n = Number(n64);
  if (n > MAX_HEADER_BYTES) throw new Error(`${source}: header of ${n} bytes is larger than the ${MAX_HEADER_BYTES}-byte limit`);
  let header: unknown;
  try {
    header = JSON.parse(Buffer.from(buf.subarray(8, 8 + n)).toString('utf8'));
  } catch (e) {
    throw new Error(`${source}: header is not valid JSON (${(e as Error).message})`);
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) throw new Error(`${source}: header is not a JSON object`);
  const dataStart = 8 + n;
  const dataLength = buf.byteLength - dataStart;
  const tensors: StateDict = new Map();
  let metadata: Record<string, string> = {};
  const ranges: Array<{ name: string; begin: number; end: number }> = [];
  for (const [name, info] of Object.entries(header as Record<string, unknown>)) {
    const bad = (what: string): never => {
      throw new Error(`${source}: tensor "${name}" ${what}`);
    };
    if (name === '__metadata__') {
      if (info === null || typeof info !== 'object' || Array.isArray(info) || !Object.values(info).every((v) => typeof v === 'string')) {
        throw new Error(`${source}: __metadata__ must be an object of strings`);
      }
      metadata = info as Record<string, string>;
      continue;
    }
    if (info === null || typeof info !== 'object' || Array.isArray(info)) bad(`has no description (${JSON.stringify(info)})`);
    const { dtype: code, shape, data_offsets: offsets } = info as Record<string, unknown>;
    const dtype = typeof code === 'string' && Object.hasOwn(CODES, code) ? CODES[code] : undefined;
    if (!dtype) bad(`has unsupported dtype ${JSON.stringify(code)}`);
    if (!Array.isArray(shape) || !shape.every(isCount)) bad(`has an invalid shape ${JSON.stringify(shape)} (non-negative integers expected)`);
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount) || offsets[0] > offsets[1]) {
      bad(`has invalid data_offsets ${JSON.stringify(offsets)} (non-negative integers [begin, end] expected)`);
    }
    const [begin, end] = offsets as [number, number];
    if (end > dataLength) bad(`extends past the end of the file (bytes ${begin}..${end} of a ${dataLength}-byte data section; truncated?)`);
    const dims = shape as number[];
    if (end - begin !== numel(dims) * BYTES[dtype!]) bad(`byte range ${begin}..${end} does not match shape [${dims}] ${code}`);
    ranges.push({ name, begin, end });
    tensors.set(name, { dtype: dtype!, shape: dims, data: typedFromBytes(dtype!, buf.subarray(dataStart + begin, dataStart + end)) });
  }
  // Non-empty byte ranges in order must not start before the furthest end seen so far.
  let reach: { name: string; begin: number; end: number } | null = null;
  for (const r of ranges.filter((x) => x.end > x.begin).sort((a, b) => a.begin - b.begin)) {
    if (reach && r.begin < reach.end) {
      throw new Error(`${source}: tensors "${reach.name}" and "${r.name}" overlap (bytes ${reach.begin}..${reach.end} and ${r.begin}..${r.end})`);
    }
    if (!reach || r.end > reach.end) reach = r;
  }
  return { tensors, metadata };
}

export function readSafetensors(file: string): SafetensorsFile {
  let buf: Buffer;
  try {
    buf = fs.readFileSync(file);
  } catch (e) {
    throw new Error(`${file}: cannot read: ${fsReason(e)}`);
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
