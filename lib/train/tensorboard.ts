/**
 * TensorBoard event files without TensorFlow: TFRecord framing (length, masked CRC32C) around
 * hand-encoded `Event` protobufs carrying scalar, image (PNG) and text summaries.
 * File name `events.out.tfevents.<secs>.<host>.<pid>`; read with `tensorboard --logdir`.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32C (Castagnoli). */
export function crc32c(buf: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < buf.length; i++) c = CRC_TABLE[(c ^ buf[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

export function maskedCrc(buf: Uint8Array): number {
  const c = crc32c(buf);
  return (((c >>> 15) | (c << 17)) + 0xa282ead8) >>> 0;
}

// --- protobuf encoding (only what Event/Summary need) ---
function varint(n: number | bigint): number[] {
  let v = BigInt(n);
  const out: number[] = [];
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
  return out;
}
const tag = (field: number, wire: number) => varint((field << 3) | wire);
function bytesField(field: number, data: Uint8Array): Uint8Array {
  return concat([Uint8Array.from(tag(field, 2)), Uint8Array.from(varint(data.length)), data]);
}
function varintField(field: number, n: number | bigint): Uint8Array {
  return Uint8Array.from([...tag(field, 0), ...varint(n)]);
}
function doubleField(field: number, v: number): Uint8Array {
  const b = new Uint8Array(9);
  b[0] = (field << 3) | 1;
  new DataView(b.buffer).setFloat64(1, v, true);
  return b;
}
function floatField(field: number, v: number): Uint8Array {
  const b = new Uint8Array(5);
  b[0] = (field << 3) | 5;
  new DataView(b.buffer).setFloat32(1, v, true);
  return b;
}
function concat(parts: Uint8Array[]): Uint8Array {
  const n = parts.reduce((a, p) => a + p.length, 0);
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
const utf8 = (s: string) => new TextEncoder().encode(s);

function event(wallTime: number, step: number, body: Uint8Array): Uint8Array {
  return concat([doubleField(1, wallTime), varintField(2, step), body]);
}

export class SummaryWriter {
  readonly file: string;
  private fd: number;

  constructor(readonly logdir: string) {
    fs.mkdirSync(logdir, { recursive: true });
    const secs = Math.floor(Date.now() / 1000);
    this.file = path.join(logdir, `events.out.tfevents.${secs}.${os.hostname()}.${process.pid}`);
    this.fd = fs.openSync(this.file, 'a');
    this.writeRecord(event(Date.now() / 1000, 0, bytesField(3, utf8('brain.Event:2'))));
  }

  private writeRecord(data: Uint8Array): void {
    const header = new Uint8Array(12);
    const dv = new DataView(header.buffer);
    dv.setBigUint64(0, BigInt(data.length), true);
    dv.setUint32(8, maskedCrc(header.subarray(0, 8)), true);
    const footer = new Uint8Array(4);
    new DataView(footer.buffer).setUint32(0, maskedCrc(data), true);
    fs.writeSync(this.fd, concat([header, data, footer]));
  }

  private summary(step: number, value: Uint8Array): void {
    this.writeRecord(event(Date.now() / 1000, step, bytesField(5, bytesField(1, value))));
  }

  scalar(tag: string, value: number, step: number): void {
    this.summary(step, concat([bytesField(1, utf8(tag)), floatField(2, value)]));
  }

  /** A PNG-encoded image (height, width, channels as encoded). */
  image(tag: string, png: Uint8Array, height: number, width: number, step: number, channels = 3): void {
    const img = concat([varintField(1, height), varintField(2, width), varintField(3, channels), bytesField(4, png)]);
    this.summary(step, concat([bytesField(1, utf8(tag)), bytesField(4, img)]));
  }

  /** Text summary (TensorBoard's text plugin: a string tensor with plugin metadata "text"). */
  text(tag: string, text: string, step: number): void {
    const tensor = concat([varintField(1, 7 /* DT_STRING */), bytesField(2, new Uint8Array(0)), bytesField(8, utf8(text))]);
    const metadata = bytesField(1, bytesField(1, utf8('text')));
    this.summary(step, concat([bytesField(1, utf8(tag)), bytesField(9, metadata), bytesField(8, tensor)]));
  }

  flush(): void {
    fs.fsyncSync(this.fd);
  }

  close(): void {
    if (this.fd >= 0) {
      fs.fsyncSync(this.fd);
      fs.closeSync(this.fd);
      this.fd = -1;
    }
  }
}

// --- reading (for tests and the report) ---
export interface EventRecord {
  wallTime: number;
  step: number;
  fileVersion?: string;
  scalars: Array<{ tag: string; value: number }>;
  images: Array<{ tag: string; height: number; width: number; png: Uint8Array }>;
  texts: Array<{ tag: string; text: string }>;
}

function readVarint(b: Uint8Array, o: { i: number }): bigint {
  let shift = 0n;
  let r = 0n;
  for (;;) {
    const byte = b[o.i++];
    r |= BigInt(byte & 0x7f) << shift;
    if (!(byte & 0x80)) return r;
    shift += 7n;
  }
}

function fields(b: Uint8Array): Array<{ field: number; wire: number; value: bigint | number | Uint8Array }> {
  const out: Array<{ field: number; wire: number; value: bigint | number | Uint8Array }> = [];
  const o = { i: 0 };
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  while (o.i < b.length) {
    const key = Number(readVarint(b, o));
    const field = key >> 3;
    const wire = key & 7;
    if (wire === 0) out.push({ field, wire, value: readVarint(b, o) });
    else if (wire === 1) {
      out.push({ field, wire, value: dv.getFloat64(o.i, true) });
      o.i += 8;
    } else if (wire === 5) {
      out.push({ field, wire, value: dv.getFloat32(o.i, true) });
      o.i += 4;
    } else if (wire === 2) {
      const len = Number(readVarint(b, o));
      out.push({ field, wire, value: b.subarray(o.i, o.i + len) });
      o.i += len;
    } else throw new Error(`unsupported protobuf wire type ${wire}`);
  }
  return out;
}

/** Reads an event file, verifying both CRCs of every record (throws on corruption). */
export function readEvents(file: string): EventRecord[] {
  const buf = new Uint8Array(fs.readFileSync(file));
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const out: EventRecord[] = [];
  let o = 0;
  const dec = new TextDecoder();
  while (o < buf.length) {
    if (o + 12 > buf.length) throw new Error(`${file}: truncated record header at byte ${o}`);
    const len = Number(dv.getBigUint64(o, true));
    if (dv.getUint32(o + 8, true) !== maskedCrc(buf.subarray(o, o + 8))) throw new Error(`${file}: bad length CRC at byte ${o}`);
    const data = buf.subarray(o + 12, o + 12 + len);
    if (o + 16 + len > buf.length) throw new Error(`${file}: truncated record at byte ${o}`);
    if (dv.getUint32(o + 12 + len, true) !== maskedCrc(data)) throw new Error(`${file}: bad data CRC at byte ${o}`);
    o += 16 + len;
    const ev: EventRecord = { wallTime: 0, step: 0, scalars: [], images: [], texts: [] };
    for (const f of fields(data)) {
      if (f.field === 1) ev.wallTime = f.value as number;
      else if (f.field === 2) ev.step = Number(f.value);
      else if (f.field === 3) ev.fileVersion = dec.decode(f.value as Uint8Array);
      else if (f.field === 5) {
        for (const v of fields(f.value as Uint8Array)) {
          if (v.field !== 1) continue;
          let t = '';
          let simple: number | undefined;
          let image: Uint8Array | undefined;
          let tensor: Uint8Array | undefined;
          for (const x of fields(v.value as Uint8Array)) {
            if (x.field === 1) t = dec.decode(x.value as Uint8Array);
            else if (x.field === 2) simple = x.value as number;
            else if (x.field === 4) image = x.value as Uint8Array;
            else if (x.field === 8) tensor = x.value as Uint8Array;
          }
          if (simple !== undefined) ev.scalars.push({ tag: t, value: simple });
          if (image) {
            const im = { tag: t, height: 0, width: 0, png: new Uint8Array(0) };
            for (const x of fields(image)) {
              if (x.field === 1) im.height = Number(x.value);
              else if (x.field === 2) im.width = Number(x.value);
              else if (x.field === 4) im.png = x.value as Uint8Array;
            }
            ev.images.push(im);
          }
          if (tensor) {
            for (const x of fields(tensor)) if (x.field === 8) ev.texts.push({ tag: t, text: dec.decode(x.value as Uint8Array) });
          }
        }
      }
    }
    out.push(ev);
  }
  return out;
}
