/**
 * Optical-flow `.flo` files.
 *
 * Both variants start with the 4 bytes 'PIEH' (= float32 202021.25 little-endian), then int32
 * width and int32 height (little-endian), then H·W·2 interleaved (u, v) values, row-major:
 *   - 'float32': the Middlebury standard, 12 + 8·H·W bytes;
 *   - 'float16': the official ProPainter variant (`utils/flow_util.py`), 12 + 4·H·W bytes.
 * Readers detect the variant from the file size. u = dx (columns), v = dy (rows), pixels.
 */
import * as fs from 'fs';
import { writeFileAtomic } from './atomic';
import { floatToHalf, halfToFloat } from './host-tensor';
import { resizeLinearFloat } from './image';

/** A flow field: (H, W, 2) float32, last axis (dx, dy). */
export interface Flow {
  width: number;
  height: number;
  data: Float32Array;
}

export type FloEncoding = 'float32' | 'float16';

const MAGIC = 0x48454950; // 'PIEH' read as little-endian uint32
const MAX_SIDE = 1 << 16;
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

let halfTable: Float32Array | null = null;
/** All 65536 half values as float32 (256 KiB), built on first use: decoding is one lookup. */
function halfLut(): Float32Array {
  if (!halfTable) {
    halfTable = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) halfTable[h] = halfToFloat(h);
  }
  return halfTable;
}

/** The encoding a file of `byteLength` bytes with the given size must have, or null. */
export function floEncodingForSize(byteLength: number, width: number, height: number): FloEncoding | null {
  const n = width * height * 2;
  if (byteLength === 12 + n * 4) return 'float32';
  if (byteLength === 12 + n * 2) return 'float16';
  return null;
}

/** Parses a header; throws naming `name` when it is not a .flo header. */
export function decodeFloHeader(buf: Uint8Array, name = 'flow'): { width: number; height: number } {
  if (buf.byteLength < 12) throw new Error(`${name}: not a .flo file (${buf.byteLength} bytes, header needs 12)`);
  const dv = new DataView(buf.buffer, buf.byteOffset, 12);
  if (dv.getUint32(0, true) !== MAGIC) throw new Error(`${name}: not a .flo file (magic is not 'PIEH')`);
  const width = dv.getInt32(4, true);
  const height = dv.getInt32(8, true);
  if (width <= 0 || height <= 0 || width > MAX_SIDE || height > MAX_SIDE) {
    throw new Error(`${name}: invalid .flo size ${width}x${height}`);
  }
  return { width, height };
}

export function decodeFlo(buf: Uint8Array, name = 'flow'): Flow & { encoding: FloEncoding } {
  const { width, height } = decodeFloHeader(buf, name);
  const encoding = floEncodingForSize(buf.byteLength, width, height);
  if (!encoding) {
    throw new Error(
      `${name}: size ${buf.byteLength} bytes matches neither float32 (${12 + width * height * 8}) ` +
        `nor float16 (${12 + width * height * 4}) data for ${width}x${height}`,
    );
  }
  const n = width * height * 2;
  const data = new Float32Array(n);
  const off = buf.byteOffset + 12;
  if (encoding === 'float32') {
    if (LITTLE_ENDIAN && off % 4 === 0) data.set(new Float32Array(buf.buffer, off, n));
    else {
      const dv = new DataView(buf.buffer, off, n * 4);
      for (let i = 0; i < n; i++) data[i] = dv.getFloat32(4 * i, true);
    }
  } else {
    const lut = halfLut();
    if (LITTLE_ENDIAN && off % 2 === 0) {
      const u = new Uint16Array(buf.buffer, off, n);
      for (let i = 0; i < n; i++) data[i] = lut[u[i]];
    } else {
      const dv = new DataView(buf.buffer, off, n * 2);
      for (let i = 0; i < n; i++) data[i] = lut[dv.getUint16(2 * i, true)];
    }
  }
  return { width, height, data, encoding };
}

/** .flo bytes; 'float16' (the official variant, default) rounds to nearest even half. */
export function encodeFlo(flow: Flow, encoding: FloEncoding = 'float16'): Uint8Array {
  const { width, height, data } = flow;
  const n = width * height * 2;
  if (data.length !== n) throw new Error(`flow data has ${data.length} values, expected ${width}x${height}x2`);
  const bytes = encoding === 'float32' ? 4 : 2;
  const out = new Uint8Array(12 + n * bytes);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, MAGIC, true);
  dv.setInt32(4, width, true);
  dv.setInt32(8, height, true);
  if (encoding === 'float32') for (let i = 0; i < n; i++) dv.setFloat32(12 + 4 * i, data[i], true);
  else for (let i = 0; i < n; i++) dv.setUint16(12 + 2 * i, floatToHalf(data[i]), true);
  return out;
}

export function readFlo(file: string): Flow & { encoding: FloEncoding } {
  let buf: Buffer;
  try {
    buf = fs.readFileSync(file);
  } catch (e) {
    throw new Error(`${file}: cannot read flow file (${(e as Error).message})`);
  }
  return decodeFlo(buf, file);
}

export async function readFloAsync(file: string): Promise<Flow & { encoding: FloEncoding }> {
  let buf: Buffer;
  try {
    buf = await fs.promises.readFile(file);
  } catch (e) {
    throw new Error(`${file}: cannot read flow file (${(e as Error).message})`);
  }
  return decodeFlo(buf, file);
}

/** Header-only check of a file: size and encoding, without reading the data. */
export function statFlo(file: string): { width: number; height: number; encoding: FloEncoding } {
  const fd = fs.openSync(file, 'r');
  try {
    const head = Buffer.alloc(12);
    const got = fs.readSync(fd, head, 0, 12, 0);
    const { width, height } = decodeFloHeader(head.subarray(0, got), file);
    const size = fs.fstatSync(fd).size;
    const encoding = floEncodingForSize(size, width, height);
    if (!encoding) throw new Error(`${file}: size ${size} bytes does not match a ${width}x${height} flow`);
    return { width, height, encoding };
  } finally {
    fs.closeSync(fd);
  }
}

/** Writes atomically; default encoding is the official float16 variant. */
export function writeFlo(file: string, flow: Flow, encoding: FloEncoding = 'float16'): void {
  writeFileAtomic(file, encodeFlo(flow, encoding));
}

/**
 * `resize_flow` (§11.6): OpenCV bilinear resize of both channels, then u ·= newW/oldW and
 * v ·= newH/oldH (float32 arithmetic as NumPy does). Same size → an unchanged copy.
 */
export function resizeFlow(flow: Flow, newHeight: number, newWidth: number): Flow {
  const { width, height } = flow;
  if (width === newWidth && height === newHeight) return { width, height, data: new Float32Array(flow.data) };
  const data = resizeLinearFloat(flow.data, width, height, 2, newWidth, newHeight);
  const su = Math.fround(newWidth / width);
  const sv = Math.fround(newHeight / height);
  for (let i = 0; i < data.length; i += 2) {
    data[i] = Math.fround(data[i] * su);
    data[i + 1] = Math.fround(data[i + 1] * sv);
  }
  return { width: newWidth, height: newHeight, data };
}
