/**
 * Minimal ZIP reader and a torch-style ZIP writer, enough for PyTorch checkpoints.
 *
 * Reader: central directory (with ZIP64 sizes/offsets), stored and deflated entries, CRC-32 check.
 * It reads through a random-access `ByteSource`, so a multi-GB checkpoint is never loaded whole:
 * each entry is read into its own freshly allocated (hence 8-byte aligned) buffer.
 *
 * Writer: the layout `torch.save` (PyTorchStreamWriter + miniz) produces — stored entries whose
 * data starts on a 64-byte boundary (padding in an "FB" extra field), local headers with zero
 * sizes followed by a data descriptor, and a ZIP64 end record before the classic one.
 */
import * as fs from 'fs';
import * as zlib from 'zlib';

/** Random-access bytes: an in-memory buffer or an open file. */
export interface ByteSource {
  readonly size: number;
  /** Exactly `length` bytes at `offset` (throws if out of range). The result may be a view. */
  read(offset: number, length: number): Uint8Array;
  close(): void;
}

export function bufferSource(buf: Uint8Array): ByteSource {
  return {
    size: buf.byteLength,
    read(offset, length) {
      if (offset < 0 || length < 0 || offset + length > buf.byteLength) {
        throw new RangeError(`read of ${length} bytes at ${offset} is outside the ${buf.byteLength}-byte buffer`);
      }
      return buf.subarray(offset, offset + length);
    },
    close() {},
  };
}

/** A file opened for positional reads; each read returns a new, aligned buffer. */
export function fileSource(file: string): ByteSource {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch (e) {
    throw new Error(`cannot open ${file}: ${(e as Error).message}`);
  }
  const size = fs.fstatSync(fd).size;
  let open = true;
  return {
    size,
    read(offset, length) {
      if (!open) throw new Error(`${file}: read after close`);
      if (offset < 0 || length < 0 || offset + length > size) {
        throw new RangeError(`read of ${length} bytes at ${offset} is outside the ${size}-byte file`);
      }
      // new Uint8Array (not Buffer.allocUnsafe): never from the shared pool, so offset 0 = aligned.
      const out = new Uint8Array(length);
      let done = 0;
      while (done < length) {
        const n = fs.readSync(fd, out, done, Math.min(length - done, 0x40000000), offset + done);
        if (n <= 0) throw new Error(`${file}: unexpected end of file at byte ${offset + done} (file changed while reading?)`);
        done += n;
      }
      return out;
    },
    close() {
      if (open) fs.closeSync(fd);
      open = false;
    },
  };
}

export interface ZipEntry {
  name: string;
  /** 0 = stored, 8 = deflate. */
  method: number;
  flags: number;
  crc32: number;
  compressedSize: number;
  size: number;
  localHeaderOffset: number;
}

const SIG_LOCAL = 0x04034b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_EOCD = 0x06054b50;
const SIG_EOCD64 = 0x06064b50;
const SIG_LOCATOR64 = 0x07064b50;
const SIG_DESCRIPTOR = 0x08074b50;
const U16_MAX = 0xffff;
const U32_MAX = 0xffffffff;

export function looksLikeZip(head: Uint8Array): boolean {
  return head.length >= 4 && head[0] === 0x50 && head[1] === 0x4b &&
    ((head[2] === 3 && head[3] === 4) || (head[2] === 5 && head[3] === 6));
}

function u64(view: DataView, at: number, what: string, source: string): number {
  const v = view.getBigUint64(at, true);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error(`${source}: corrupt ZIP: ${what} ${v} is too large`);
  return Number(v);
}

function dv(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

export class ZipReader {
  private readonly byName = new Map<string, ZipEntry>();
  readonly entries: ZipEntry[] = [];

  /** `name` is used in error messages (normally the file path). */
  constructor(private readonly source: ByteSource, readonly name: string) {
    this.readCentralDirectory();
  }

  static open(file: string): ZipReader {
    const src = fileSource(file);
    try {
      return new ZipReader(src, file);
    } catch (e) {
      src.close();
      throw e;
    }
  }

  static fromBuffer(buf: Uint8Array, name = 'zip data'): ZipReader {
    return new ZipReader(bufferSource(buf), name);
  }

  close(): void {
    this.source.close();
  }

  private fail(msg: string): never {
    throw new Error(`${this.name}: ${msg}`);
  }

  private readCentralDirectory(): void {
    const size = this.source.size;
    if (size < 22) this.fail(`truncated or not a ZIP archive: ${size} bytes, too short for an end-of-central-directory record`);
    // The EOCD record is within the last 22 + 65535 (max comment) bytes.
    const tailLen = Math.min(size, 22 + U16_MAX);
    const tailStart = size - tailLen;
    const tail = this.source.read(tailStart, tailLen);
    const tv = dv(tail);
    let eocd = -1;
    for (let i = tailLen - 22; i >= 0; i--) {
      if (tv.getUint32(i, true) === SIG_EOCD && i + 22 + tv.getUint16(i + 20, true) <= tailLen) {
        eocd = i;
        break;
      }
    }
    if (eocd < 0) {
      this.fail(`truncated or corrupt ZIP archive: no end-of-central-directory record ` +
        `(file is ${size} bytes; an interrupted download or copy?)`);
    }
    let count = tv.getUint16(eocd + 10, true);
    let cdSize = tv.getUint32(eocd + 12, true);
    let cdOffset = tv.getUint32(eocd + 16, true);
    const eocdAbs = tailStart + eocd;
    const needs64 = count === U16_MAX || cdSize === U32_MAX || cdOffset === U32_MAX;
    // ZIP64: a locator sits right before the EOCD and points at the ZIP64 end record.
    if (eocdAbs >= 20) {
      const loc = dv(this.source.read(eocdAbs - 20, 20));
      if (loc.getUint32(0, true) === SIG_LOCATOR64) {
        const recOff = u64(loc, 8, 'ZIP64 end record offset', this.name);
        if (recOff + 56 > eocdAbs - 20) this.fail(`corrupt ZIP64 locator: end record offset ${recOff} is past the locator`);
        const rec = dv(this.source.read(recOff, 56));
        if (rec.getUint32(0, true) !== SIG_EOCD64) this.fail(`corrupt ZIP64 end record at byte ${recOff} (bad signature)`);
        count = u64(rec, 32, 'entry count', this.name);
        cdSize = u64(rec, 40, 'central directory size', this.name);
        cdOffset = u64(rec, 48, 'central directory offset', this.name);
      } else if (needs64) {
        this.fail('corrupt ZIP archive: ZIP64 sizes announced but no ZIP64 end-record locator found');
      }
    }
    if (cdOffset + cdSize > size) {
      this.fail(`truncated or corrupt ZIP archive: central directory (${cdSize} bytes at ${cdOffset}) extends past the end of the ${size}-byte file`);
    }
    if (count > cdSize / 46) this.fail(`corrupt ZIP archive: ${count} entries cannot fit in a ${cdSize}-byte central directory`);
    const cd = this.source.read(cdOffset, cdSize);
    const v = dv(cd);
    let p = 0;
    for (let k = 0; k < count; k++) {
      if (p + 46 > cdSize || v.getUint32(p, true) !== SIG_CENTRAL) {
        this.fail(`corrupt ZIP central directory: entry ${k} at byte ${cdOffset + p} has a bad signature or is truncated`);
      }
      const flags = v.getUint16(p + 8, true);
      const method = v.getUint16(p + 10, true);
      const crc32 = v.getUint32(p + 16, true);
      let compressedSize = v.getUint32(p + 20, true);
      let uncompressed = v.getUint32(p + 24, true);
      const nameLen = v.getUint16(p + 28, true);
      const extraLen = v.getUint16(p + 30, true);
      const commentLen = v.getUint16(p + 32, true);
      let localHeaderOffset = v.getUint32(p + 42, true);
      const end = p + 46 + nameLen + extraLen + commentLen;
      if (end > cdSize) this.fail(`corrupt ZIP central directory: entry ${k} overruns the directory`);
      const name = Buffer.from(cd.subarray(p + 46, p + 46 + nameLen)).toString(flags & 0x800 ? 'utf8' : 'latin1');
      // ZIP64 extended information: 64-bit values present only for fields saturated at 0xFFFFFFFF.
      let e = p + 46 + nameLen;
      const eEnd = e + extraLen;
      while (e + 4 <= eEnd) {
        const id = v.getUint16(e, true);
        const len = v.getUint16(e + 2, true);
        if (e + 4 + len > eEnd) this.fail(`corrupt ZIP extra field in entry "${name}"`);
        if (id === 0x0001) {
          let q = e + 4;
          const take = (what: string): number => {
            if (q + 8 > e + 4 + len) this.fail(`corrupt ZIP64 extra field in entry "${name}" (missing ${what})`);
            const x = u64(v, q, what, this.name);
            q += 8;
            return x;
          };
          if (uncompressed === U32_MAX) uncompressed = take('size');
          if (compressedSize === U32_MAX) compressedSize = take('compressed size');
          if (localHeaderOffset === U32_MAX) localHeaderOffset = take('local header offset');
        }
        e += 4 + len;
      }
      if (localHeaderOffset + 30 + compressedSize > size) {
        this.fail(`truncated ZIP archive: entry "${name}" (${compressedSize} bytes at ${localHeaderOffset}) extends past the end of the ${size}-byte file`);
      }
      const entry: ZipEntry = { name, method, flags, crc32, compressedSize, size: uncompressed, localHeaderOffset };
      this.entries.push(entry);
      this.byName.set(name, entry);
      p = end;
    }
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  get(name: string): ZipEntry | undefined {
    return this.byName.get(name);
  }

  /** Absolute file offset of an entry's data (after its local header). */
  dataOffset(entry: ZipEntry): number {
    const h = dv(this.source.read(entry.localHeaderOffset, 30));
    if (h.getUint32(0, true) !== SIG_LOCAL) this.fail(`corrupt ZIP archive: bad local header for "${entry.name}" at byte ${entry.localHeaderOffset}`);
    const start = entry.localHeaderOffset + 30 + h.getUint16(26, true) + h.getUint16(28, true);
    if (start + entry.compressedSize > this.source.size) {
      this.fail(`truncated ZIP archive: data of "${entry.name}" (${entry.compressedSize} bytes at ${start}) extends past the end of the ${this.source.size}-byte file`);
    }
    return start;
  }

  /** The uncompressed bytes of an entry (stored or deflated), CRC-checked unless disabled. */
  read(nameOrEntry: string | ZipEntry, opts: { verifyCrc?: boolean } = {}): Uint8Array {
    const entry = typeof nameOrEntry === 'string' ? this.byName.get(nameOrEntry) : nameOrEntry;
    if (!entry) this.fail(`ZIP archive has no entry "${nameOrEntry as string}"`);
    if (entry.flags & 1) this.fail(`entry "${entry.name}" is encrypted`);
    const start = this.dataOffset(entry);
    const raw = this.source.read(start, entry.compressedSize);
    let out: Uint8Array;
    if (entry.method === 0) {
      if (entry.compressedSize !== entry.size) this.fail(`corrupt ZIP entry "${entry.name}": stored with ${entry.compressedSize} bytes but size ${entry.size}`);
      out = raw;
    } else if (entry.method === 8) {
      // Deflate cannot exceed ~1032:1, so a larger declared size is a lie (or a bomb): refuse it.
      if (entry.size > 1032 * entry.compressedSize + 1024) {
        this.fail(`corrupt ZIP entry "${entry.name}": declares ${entry.size} bytes from ${entry.compressedSize} compressed bytes`);
      }
      try {
        out = zlib.inflateRawSync(raw, { maxOutputLength: Math.max(1, entry.size) });
      } catch (e) {
        this.fail(`corrupt deflate data in entry "${entry.name}": ${(e as Error).message}`);
      }
      if (out.byteLength !== entry.size) this.fail(`corrupt ZIP entry "${entry.name}": inflated to ${out.byteLength} bytes, expected ${entry.size}`);
    } else {
      this.fail(`entry "${entry.name}" uses unsupported compression method ${entry.method}`);
    }
    if (opts.verifyCrc ?? true) {
      const crc = zlib.crc32(out) >>> 0;
      if (crc !== entry.crc32) {
        this.fail(`CRC-32 mismatch in entry "${entry.name}" (stored ${hex32(entry.crc32)}, computed ${hex32(crc)}): the file is corrupt`);
      }
    }
    return out;
  }
}

function hex32(x: number): string {
  return '0x' + (x >>> 0).toString(16).padStart(8, '0');
}

// ---------------------------------------------------------------------------------------------
// Writer

export interface ZipWriteEntry {
  name: string;
  /** The entry's bytes, possibly in several chunks (not copied). */
  data: Uint8Array | Uint8Array[];
}

/** Data-alignment of PyTorchStreamWriter (kFieldAlignment). */
export const TORCH_ZIP_ALIGNMENT = 64;

/**
 * Serialises stored entries the way PyTorch's PyTorchStreamWriter (miniz) does and returns the
 * chunks to write (entry data is referenced, not copied). ZIP64 extra fields are added for entries
 * or offsets at or beyond 4 GiB (as miniz does); `forceZip64` adds them everywhere (for tests).
 */
export function buildTorchZip(entries: ZipWriteEntry[], opts: { forceZip64?: boolean } = {}): Uint8Array[] {
  const force = opts.forceZip64 ?? false;
  const out: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let cursor = 0;
  const push = (b: Uint8Array) => {
    out.push(b);
    cursor += b.byteLength;
  };
  for (const entry of entries) {
    const chunks = Array.isArray(entry.data) ? entry.data : [entry.data];
    const size = chunks.reduce((a, c) => a + c.byteLength, 0);
    let crc = 0;
    for (const c of chunks) crc = zlib.crc32(c, crc);
    crc >>>= 0;
    const name = Buffer.from(entry.name, 'utf8');
    const headerOffset = cursor;
    const bigSize = force || size >= U32_MAX;
    const bigOffset = force || headerOffset >= U32_MAX;
    const z64Len = bigSize || bigOffset ? 4 + (bigSize ? 16 : 0) + (bigOffset ? 8 : 0) : 0;
    // Padding so that the data begins at a multiple of 64 (PyTorchStreamWriter::getPadding).
    const start = headerOffset + 30 + name.byteLength + z64Len + 4;
    const pad = (TORCH_ZIP_ALIGNMENT - (start % TORCH_ZIP_ALIGNMENT)) % TORCH_ZIP_ALIGNMENT;
    const local = Buffer.alloc(30 + name.byteLength + z64Len + 4 + pad);
    local.writeUInt32LE(SIG_LOCAL, 0);
    local.writeUInt16LE(z64Len ? 45 : 0, 4);
    local.writeUInt16LE(0x0808, 6); // data descriptor follows; UTF-8 names
    // method, time, date, crc and sizes stay 0 (sizes/crc are in the descriptor), as miniz writes.
    if (bigSize) {
      local.writeUInt32LE(U32_MAX, 18);
      local.writeUInt32LE(U32_MAX, 22);
    }
    local.writeUInt16LE(name.byteLength, 26);
    local.writeUInt16LE(z64Len + 4 + pad, 28);
    name.copy(local, 30);
    let q = 30 + name.byteLength;
    if (z64Len) q = writeZip64Extra(local, q, bigSize ? size : -1, bigOffset ? headerOffset : -1);
    local.write('FB', q, 'latin1');
    local.writeUInt16LE(pad, q + 2);
    local.fill(0x5a, q + 4); // 'Z'
    push(local);
    for (const c of chunks) push(c);
    const desc = Buffer.alloc(bigSize || bigOffset ? 24 : 16);
    desc.writeUInt32LE(SIG_DESCRIPTOR, 0);
    desc.writeUInt32LE(crc, 4);
    if (desc.byteLength === 24) {
      desc.writeBigUInt64LE(BigInt(size), 8);
      desc.writeBigUInt64LE(BigInt(size), 16);
    } else {
      desc.writeUInt32LE(size, 8);
      desc.writeUInt32LE(size, 12);
    }
    push(desc);

    const cz64Len = bigSize || bigOffset ? 4 + (bigSize ? 16 : 0) + (bigOffset ? 8 : 0) : 0;
    const c = Buffer.alloc(46 + name.byteLength + cz64Len);
    c.writeUInt32LE(SIG_CENTRAL, 0);
    c.writeUInt16LE(cz64Len ? 45 : 0, 6);
    c.writeUInt16LE(0x0808, 8);
    c.writeUInt32LE(crc, 16);
    c.writeUInt32LE(bigSize ? U32_MAX : size, 20);
    c.writeUInt32LE(bigSize ? U32_MAX : size, 24);
    c.writeUInt16LE(name.byteLength, 28);
    c.writeUInt16LE(cz64Len, 30);
    c.writeUInt32LE(bigOffset ? U32_MAX : headerOffset, 42);
    name.copy(c, 46);
    if (cz64Len) writeZip64Extra(c, 46 + name.byteLength, bigSize ? size : -1, bigOffset ? headerOffset : -1);
    central.push(c);
  }
  const cdOffset = cursor;
  for (const c of central) push(c);
  const cdSize = cursor - cdOffset;
  const n = entries.length;
  const rec64Offset = cursor;
  const rec = Buffer.alloc(56 + 20 + 22);
  rec.writeUInt32LE(SIG_EOCD64, 0);
  rec.writeBigUInt64LE(44n, 4);
  rec.writeUInt16LE(0x031e, 12);
  rec.writeUInt16LE(45, 14);
  rec.writeBigUInt64LE(BigInt(n), 24);
  rec.writeBigUInt64LE(BigInt(n), 32);
  rec.writeBigUInt64LE(BigInt(cdSize), 40);
  rec.writeBigUInt64LE(BigInt(cdOffset), 48);
  rec.writeUInt32LE(SIG_LOCATOR64, 56);
  rec.writeBigUInt64LE(BigInt(rec64Offset), 64);
  rec.writeUInt32LE(1, 72);
  rec.writeUInt32LE(SIG_EOCD, 76);
  rec.writeUInt16LE(Math.min(n, U16_MAX), 84);
  rec.writeUInt16LE(Math.min(n, U16_MAX), 86);
  rec.writeUInt32LE(Math.min(cdSize, U32_MAX), 88);
  rec.writeUInt32LE(Math.min(cdOffset, U32_MAX), 92);
  push(rec);
  return out;
}

/** ZIP64 extra field (id 1): size and compressed size if `size >= 0`, then offset if `offset >= 0`. */
function writeZip64Extra(b: Buffer, at: number, size: number, offset: number): number {
  b.writeUInt16LE(0x0001, at);
  b.writeUInt16LE((size >= 0 ? 16 : 0) + (offset >= 0 ? 8 : 0), at + 2);
  let q = at + 4;
  if (size >= 0) {
    b.writeBigUInt64LE(BigInt(size), q);
    b.writeBigUInt64LE(BigInt(size), q + 8);
    q += 16;
  }
  if (offset >= 0) {
    b.writeBigUInt64LE(BigInt(offset), q);
    q += 8;
  }
  return q;
}
