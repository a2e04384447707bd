/**
 * PyTorch `torch.save` files (.pth / .pt), read without Python and without executing pickles.
 *
 * Two container formats exist:
 *  - zip (torch >= 1.6): `<prefix>/data.pkl` (the pickle), `<prefix>/data/<key>` (one raw
 *    little-endian storage per key), `<prefix>/version`; `<prefix>` is any directory name.
 *  - legacy: pickles of the magic number, protocol version and sys_info, then the main pickle, then
 *    a pickled list of storage keys, then each storage as an int64 element count + raw bytes.
 * Tensors are `torch._utils._rebuild_tensor_v2(storage, offset, size, stride, …)` views; they are
 * materialised here as contiguous row-major HostTensors (views of shared storages are copied).
 *
 * `writePth` writes the zip format exactly as torch 1.13 does (pickle protocol 2), so the
 * official PyTorch code can `torch.load` our weights.
 */
import { writeFileAtomic } from './atomic';
import { DType, HostData, HostTensor, StateDict, numel } from './host-tensor';
import {
  PickleError, PickleTruncatedError, PyDict, StorageRef, TensorRef, TorchStorageType, isTuple, unpickle,
} from './pickle';
import { dtypeBytes } from './safetensors';
import { ByteSource, ZipEntry, ZipReader, bufferSource, buildTorchZip, fileSource, looksLikeZip } from './zip';

export type PthFormat = 'zip' | 'legacy';

/** First bytes of a legacy file: PROTO 2, LONG1 of 10 bytes = 0x1950a86a20f9469cfc6c. */
export const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;
const LEGACY_PROTOCOL_VERSION = 1001;

/** Keys under which training scripts commonly nest the model's state dict, in priority order. */
export const STATE_DICT_KEYS = ['state_dict', 'model_state_dict', 'params', 'model', 'netG', 'generator', 'net', 'network'];

export interface PthReadOptions {
  /** Path of the state dict inside a nested checkpoint, '/'-separated (e.g. 'state_dict' or 'models/netG'). */
  key?: string;
  /** Check the CRC-32 of zip entries (default true). */
  verifyCrc?: boolean;
}

export interface PthObjectOptions {
  verifyCrc?: boolean;
  /** Return tensors as PthView (storage + strides, storages shared) instead of contiguous HostTensors. */
  views?: boolean;
}

export interface PthFile {
  format: PthFormat;
  /** The unpickled object; tensors are HostTensors (or PthViews with `views: true`). */
  object: unknown;
}

/** Contiguous storage contents, for writing (and for reading with `views: true`). */
export interface PthStorage {
  dtype: DType;
  data: HostData;
}

/** A strided tensor view of a storage, as torch pickles it. Offsets and strides are in elements. */
export class PthView {
  constructor(
    readonly storage: PthStorage,
    readonly offset: number,
    readonly shape: number[],
    readonly stride: number[],
    readonly requiresGrad = false,
  ) {}
}

export function isHostTensor(x: unknown): x is HostTensor {
  return typeof x === 'object' && x !== null && !(x instanceof PthView) && typeof (x as HostTensor).dtype === 'string' &&
    Array.isArray((x as HostTensor).shape) && ArrayBuffer.isView((x as HostTensor).data);
}

// ---------------------------------------------------------------------------------------------
// Reading

/** Reads a .pth file and returns its state dict (see `selectStateDict` for nested checkpoints). */
export function readPth(file: string, opts: PthReadOptions = {}): StateDict {
  return selectStateDict(readPthObject(file, { verifyCrc: opts.verifyCrc }).object, file, opts.key);
}

/** Reads a .pth file into its whole object tree (dicts, numbers, strings, tensors). */
export function readPthObject(file: string, opts: PthObjectOptions = {}): PthFile {
  const src = fileSource(file);
  try {
    return loadPth(src, file, opts);
  } finally {
    src.close();
  }
}

/** Like readPthObject, from bytes in memory; `source` names them in errors. */
export function parsePth(buf: Uint8Array, source = 'pth data', opts: PthObjectOptions = {}): PthFile {
  return loadPth(bufferSource(buf), source, opts);
}

function loadPth(src: ByteSource, source: string, opts: PthObjectOptions): PthFile {
  if (src.size === 0) throw new Error(`${source}: empty file`);
  const head = src.read(0, Math.min(src.size, 16));
  if (looksLikeZip(head)) return { format: 'zip', object: loadZip(src, source, opts) };
  if (head[0] === 0x80) return { format: 'legacy', object: loadLegacy(src, source, opts) };
  throw new Error(`${source}: not a PyTorch checkpoint (first bytes ${hexHead(head)}; expected a ZIP archive "PK\\x03\\x04" or a pickle "\\x80")`);
}

export function hexHead(head: Uint8Array): string {
  const b = head.subarray(0, 16);
  const hex = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(' ');
  const ascii = Array.from(b, (x) => (x >= 0x20 && x < 0x7f ? String.fromCharCode(x) : '.')).join('');
  return `${hex} "${ascii}"`;
}

const STORAGE_CLASS: Record<DType, string> = {
  float32: 'FloatStorage', float64: 'DoubleStorage', float16: 'HalfStorage', bfloat16: 'BFloat16Storage',
  int64: 'LongStorage', int32: 'IntStorage', int16: 'ShortStorage', int8: 'CharStorage', uint8: 'ByteStorage', bool: 'BoolStorage',
};

/** persistent_load for both formats: ('storage', type, key, location, numel[, view_metadata]). */
function storageLoader(storages: Map<string, StorageRef>) {
  return (pid: unknown): StorageRef => {
    if (!isTuple(pid) || pid[0] !== 'storage') {
      const what = isTuple(pid) && typeof pid[0] === 'string' ? `'${pid[0]}'` : typeof pid === 'string' ? JSON.stringify(pid) : 'an unexpected value';
      throw new Error(`persistent id ${what} is not a storage (whole pickled modules are not supported; save model.state_dict())`);
    }
    const [, type, key, location, count, viewMeta] = pid;
    if (!(type instanceof TorchStorageType)) throw new Error(`storage type is ${String(type)}, not a torch storage class`);
    if (typeof key !== 'string') throw new Error('storage key is not a string');
    if (typeof count !== 'number' || !Number.isSafeInteger(count) || count < 0) throw new Error(`storage "${key}" has invalid size ${String(count)}`);
    let root = storages.get(key);
    if (!root) {
      root = new StorageRef(key, type.dtype, count, typeof location === 'string' ? location : 'cpu');
      storages.set(key, root);
    } else if (root.dtype !== type.dtype || root.numel !== count) {
      throw new Error(`storage "${key}" is used as ${type.qualname}[${count}] and as ${root.dtype}[${root.numel}]`);
    }
    if (viewMeta === undefined || viewMeta === null) return root;
    // Legacy storage views (torch < 0.4): (view_key, offset, size) in elements of the root.
    if (!isTuple(viewMeta) || viewMeta.length !== 3) throw new Error(`storage "${key}" has malformed view metadata`);
    const [viewKey, off, size] = viewMeta;
    if (typeof viewKey !== 'string' || typeof off !== 'number' || typeof size !== 'number' || off < 0 || size < 0 || off + size > count) {
      throw new Error(`storage view of "${key}" is out of range`);
    }
    let v = storages.get(viewKey);
    if (!v) {
      v = new StorageRef(viewKey, type.dtype, size, root.location, { root, offset: off });
      storages.set(viewKey, v);
    }
    return v;
  };
}

/**
 * What deflated entries of an archive may inflate to in total: a checkpoint torch wrote stores
 * its entries (nothing to inflate); one re-zipped by a tool compresses weights little. The
 * allowance stops a small file from inflating to gigabytes (deflate reaches ~1000:1).
 */
function inflateBudget(fileSize: number): number {
  return 64 * 2 ** 20 + 16 * fileSize;
}

function loadZip(src: ByteSource, source: string, opts: PthObjectOptions): unknown {
  const zip = new ZipReader(src, source);
  let budget = inflateBudget(src.size);
  /** Reads an entry; a deflated one only within the budget, before anything is inflated. */
  const readEntry = (entry: ZipEntry, verifyCrc: boolean): Uint8Array => {
    if (entry.method !== 0) {
      if (entry.size > budget) {
        throw new Error(`${source}: entry "${entry.name}" inflates ${entry.compressedSize} compressed bytes to ${entry.size}, ` +
          `beyond the ${inflateBudget(src.size)} bytes allowed for a ${src.size}-byte file (a ZIP bomb?); re-save it with torch.save`);
      }
      budget -= entry.size;
    }
    return zip.read(entry, { verifyCrc });
  };
  const pkls = zip.entries.filter((e) => /^[^/]+\/data\.pkl$/.test(e.name));
  if (pkls.length !== 1) {
    const names = zip.entries.slice(0, 8).map((e) => e.name).join(', ');
    throw new Error(`${source}: a ZIP archive but not a PyTorch checkpoint: ${pkls.length === 0 ? 'no' : 'several'} "<dir>/data.pkl" entries (entries: ${names}${zip.entries.length > 8 ? ', …' : ''})`);
  }
  const pklEntry = pkls[0];
  const prefix = pklEntry.name.slice(0, -'data.pkl'.length);
  const verifyCrc = opts.verifyCrc ?? true;
  const pkl = readEntry(pklEntry, verifyCrc);
  const storages = new Map<string, StorageRef>();
  const { value } = unpickle(pkl, { source: `${source} (${pklEntry.name})`, persistentLoad: storageLoader(storages) });
  let bigEndian = false;
  const bo = zip.get(`${prefix}byteorder`);
  if (bo) {
    if (bo.size > 16) throw new Error(`${source}: byteorder entry of ${bo.size} bytes (expected "little" or "big")`);
    const s = Buffer.from(readEntry(bo, verifyCrc)).toString('latin1').trim();
    if (s !== 'little' && s !== 'big') throw new Error(`${source}: unknown byteorder "${s}"`);
    bigEndian = s === 'big';
  }
  const bytes = new Map<StorageRef, Uint8Array>();
  for (const ref of storages.values()) {
    const name = `${prefix}data/${ref.key}`;
    const entry = zip.get(name);
    if (!entry) throw new Error(`${source}: storage "${ref.key}" is missing from the archive (no entry "${name}"; truncated or corrupt file)`);
    const need = ref.numel * dtypeBytes(ref.dtype);
    if (entry.size < need) throw new Error(`${source}: storage "${ref.key}" has ${entry.size} bytes, needs ${need} (${ref.numel} × ${ref.dtype})`);
    // Inflate no more than the pickle references (torch writes exactly that many bytes).
    if (entry.method !== 0 && entry.size > need) {
      throw new Error(`${source}: storage "${ref.key}" inflates to ${entry.size} bytes but the pickle references ${need} (${ref.numel} × ${ref.dtype})`);
    }
    let b = readEntry(entry, verifyCrc);
    if (b.byteLength > need) b = b.subarray(0, need);
    bytes.set(ref, bigEndian ? byteswap(b, dtypeBytes(ref.dtype)) : b);
  }
  return resolveTensors(value, bytes, source, src.size, opts.views ?? false);
}

function loadLegacy(src: ByteSource, source: string, opts: PthObjectOptions): unknown {
  // The pickles come first; their total length is unknown, so parse a growing prefix of the file.
  let window = Math.min(src.size, 1 << 20);
  for (;;) {
    const buf = src.read(0, window);
    const storages = new Map<string, StorageRef>();
    try {
      const parsed = parseLegacyPickles(buf, source, storages, src.size);
      return readLegacyStorages(src, source, parsed, storages, opts);
    } catch (e) {
      if (e instanceof PickleTruncatedError && window < src.size) {
        window = Math.min(src.size, Math.max(window * 4, e.needed));
        continue;
      }
      throw e;
    }
  }
}

interface LegacyPickles {
  value: unknown;
  keys: string[];
  dataStart: number;
  littleEndian: boolean;
}

function parseLegacyPickles(buf: Uint8Array, source: string, storages: Map<string, StorageRef>, fileSize: number): LegacyPickles {
  const base = { source, fileSize };
  const magic = unpickle(buf, { ...base, offset: 0 });
  if (magic.value !== LEGACY_MAGIC) {
    throw new Error(`${source}: a Python pickle but not a PyTorch checkpoint (magic number ${String(magic.value).slice(0, 40)}; ` +
      'very old tar-format or plain-pickle files are not supported)');
  }
  const proto = unpickle(buf, { ...base, offset: magic.end });
  if (proto.value !== LEGACY_PROTOCOL_VERSION) throw new Error(`${source}: unsupported legacy protocol version ${String(proto.value)}`);
  const sys = unpickle(buf, { ...base, offset: proto.end });
  const littleEndian = !(sys.value instanceof PyDict && sys.value.get('little_endian') === false);
  const main = unpickle(buf, { ...base, offset: sys.end, persistentLoad: storageLoader(storages) });
  const keys = unpickle(buf, { ...base, offset: main.end });
  if (!Array.isArray(keys.value) || !keys.value.every((k) => typeof k === 'string')) {
    throw new Error(`${source}: legacy storage key list at byte ${main.end} is not a list of strings`);
  }
  return { value: main.value, keys: keys.value as string[], dataStart: keys.end, littleEndian };
}

function readLegacyStorages(src: ByteSource, source: string, p: LegacyPickles, storages: Map<string, StorageRef>, opts: PthObjectOptions): unknown {
  const bytes = new Map<StorageRef, Uint8Array>();
  let off = p.dataStart;
  for (const key of p.keys) {
    const ref = storages.get(key);
    if (!ref || ref.view) throw new Error(`${source}: legacy storage key "${key}" is not used by any tensor`);
    if (off + 8 > src.size) throw new Error(`${source}: truncated: storage "${key}" header at byte ${off} is past the end of the ${src.size}-byte file`);
    const h = src.read(off, 8);
    const count = new DataView(h.buffer, h.byteOffset, 8).getBigInt64(0, p.littleEndian);
    if (count !== BigInt(ref.numel)) throw new Error(`${source}: storage "${key}" at byte ${off} has ${count} elements, the pickle says ${ref.numel}`);
    const el = dtypeBytes(ref.dtype);
    const nbytes = ref.numel * el;
    if (off + 8 + nbytes > src.size) {
      throw new Error(`${source}: truncated: storage "${key}" (${nbytes} bytes at ${off + 8}) extends past the end of the ${src.size}-byte file`);
    }
    const b = src.read(off + 8, nbytes);
    bytes.set(ref, p.littleEndian ? b : byteswap(b, el));
    off += 8 + nbytes;
  }
  for (const ref of storages.values()) {
    if (!ref.view && !bytes.has(ref)) throw new Error(`${source}: storage "${ref.key}" is referenced but not in the file's storage list (corrupt file)`);
  }
  return resolveTensors(p.value, bytes, source, src.size, opts.views ?? false);
}

function byteswap(b: Uint8Array, el: number): Uint8Array {
  const out = new Uint8Array(b.byteLength);
  for (let i = 0; i < b.byteLength; i += el) for (let j = 0; j < el; j++) out[i + j] = b[i + el - 1 - j];
  return out;
}

function typedView(dtype: DType, buf: ArrayBuffer, byteOffset: number, n: number): HostData {
  switch (dtype) {
    case 'float64': return new Float64Array(buf, byteOffset, n);
    case 'float32': return new Float32Array(buf, byteOffset, n);
    case 'float16': case 'bfloat16': return new Uint16Array(buf, byteOffset, n);
    case 'int64': return new BigInt64Array(buf, byteOffset, n);
    case 'int32': return new Int32Array(buf, byteOffset, n);
    case 'int16': return new Int16Array(buf, byteOffset, n);
    case 'int8': return new Int8Array(buf, byteOffset, n);
    case 'uint8': case 'bool': return new Uint8Array(buf, byteOffset, n);
  }
}

const MAX_DEPTH = 1000;

/** Replaces TensorRefs in the unpickled tree by HostTensors (or PthViews); containers are updated in place. */
function resolveTensors(root: unknown, bytes: Map<StorageRef, Uint8Array>, source: string, fileSize: number, views: boolean): unknown {
  const uses = new Map<StorageRef, number>();
  const rootOf = (s: StorageRef) => s.view?.root ?? s;
  const storageBytes = (s: StorageRef): Uint8Array => {
    const r = rootOf(s);
    const b = bytes.get(r);
    if (!b) throw new Error(`${source}: no data for storage "${r.key}"`);
    if (!s.view) return b;
    const el = dtypeBytes(s.dtype);
    return b.subarray(s.view.offset * el, (s.view.offset + s.numel) * el);
  };
  // First pass: count tensors per root storage (a storage used once may be adopted without a copy).
  const seen = new Set<unknown>();
  const count = (x: unknown, depth: number): void => {
    if (depth > MAX_DEPTH) throw new Error(`${source}: objects nested deeper than ${MAX_DEPTH} levels`);
    if (x === null || typeof x !== 'object' || seen.has(x)) return;
    seen.add(x);
    if (x instanceof TensorRef) uses.set(rootOf(x.storage), (uses.get(rootOf(x.storage)) ?? 0) + 1);
    else if (x instanceof Map) for (const v of x.values()) count(v, depth + 1);
    else if (Array.isArray(x)) for (const v of x) count(v, depth + 1);
  };
  count(root, 0);

  let budget = 4 * fileSize + 64 * 2 ** 20; // stride-0 (expanded) views must not blow up memory
  const done = new Map<unknown, unknown>();
  const specs = new Map<StorageRef, PthStorage>();
  const convert = (x: unknown): unknown => {
    if (x === null || typeof x !== 'object') return x;
    if (done.has(x)) return done.get(x);
    if (x instanceof TensorRef) {
      let out: unknown;
      if (views) {
        const r = rootOf(x.storage);
        let spec = specs.get(r);
        if (!spec) {
          const b = storageBytes(r);
          const copy = new Uint8Array(b.byteLength);
          copy.set(b);
          spec = { dtype: r.dtype, data: typedView(r.dtype, copy.buffer, 0, r.numel) };
          specs.set(r, spec);
        }
        const off = x.storage.view ? x.storage.view.offset + x.offset : x.offset;
        checkBounds(x, source);
        out = new PthView(spec, off, x.shape.slice(), x.stride.slice(), x.requiresGrad);
      } else {
        // Check before allocating: a tiny file could describe a huge stride-0 (expanded) view.
        const nbytes = numel(x.shape) * dtypeBytes(x.storage.dtype);
        budget -= nbytes;
        if (!Number.isSafeInteger(nbytes) || budget < 0) {
          throw new Error(`${source}: tensor of shape [${x.shape}] (${nbytes} bytes) would take the tensors past 4× the file size ` +
            '(stride-0 expanded views of a small storage?); refusing to allocate');
        }
        out = materialise(x, storageBytes(x.storage), uses.get(rootOf(x.storage)) === 1 && !x.storage.view, source);
      }
      done.set(x, out);
      return out;
    }
    done.set(x, x);
    if (x instanceof Map) {
      for (const [k, v] of x) x.set(k, convert(v));
      return x;
    }
    if (Array.isArray(x)) {
      if (Object.isFrozen(x)) {
        const t = Object.freeze(x.map(convert));
        done.set(x, t);
        return t;
      }
      for (let i = 0; i < x.length; i++) x[i] = convert(x[i]);
      return x;
    }
    if (x instanceof StorageRef) throw new Error(`${source}: bare storages (not wrapped in a tensor) are not supported`);
    return x;
  };
  return convert(root);
}

function checkBounds(t: TensorRef, source: string): void {
  const n = numel(t.shape);
  if (n === 0) return;
  let last = t.offset;
  for (let d = 0; d < t.shape.length; d++) last += (t.shape[d] - 1) * t.stride[d];
  if (!Number.isSafeInteger(last) || last >= t.storage.numel) {
    throw new Error(`${source}: tensor of shape [${t.shape}] stride [${t.stride}] offset ${t.offset} reads element ${last} of a ${t.storage.numel}-element storage "${t.storage.key}" (corrupt file)`);
  }
}

/** A contiguous, row-major copy of a strided view (no copy when it is a whole, single-use storage). */
function materialise(t: TensorRef, raw: Uint8Array, soleUser: boolean, source: string): HostTensor {
  checkBounds(t, source);
  const dtype = t.storage.dtype;
  const el = dtypeBytes(dtype);
  const n = numel(t.shape);
  const shape = t.shape.slice();
  let contiguous = true;
  for (let d = t.shape.length - 1, s = 1; d >= 0; d--) {
    if (t.shape[d] !== 1 && t.stride[d] !== s) contiguous = false;
    s *= t.shape[d];
  }
  if (contiguous) {
    const start = t.offset * el;
    if (soleUser && start === 0 && n * el === raw.byteLength && raw.byteOffset === 0 && raw.byteLength === raw.buffer.byteLength) {
      return { dtype, shape, data: typedView(dtype, raw.buffer as ArrayBuffer, 0, n) };
    }
    const copy = new Uint8Array(n * el);
    copy.set(raw.subarray(start, start + n * el));
    return { dtype, shape, data: typedView(dtype, copy.buffer, 0, n) };
  }
  let src = raw;
  if (raw.byteOffset % el !== 0) {
    src = new Uint8Array(raw.byteLength);
    src.set(raw);
  }
  const out = new Uint8Array(n * el);
  // Copy element-sized words (8-byte elements as two 32-bit words: no float canonicalisation).
  const w = el === 8 ? 4 : el;
  const k = el / w;
  const mk = (b: Uint8Array, len: number) =>
    w === 1 ? b : w === 2 ? new Uint16Array(b.buffer, b.byteOffset, len / 2) : new Uint32Array(b.buffer, b.byteOffset, len / 4);
  const inW = mk(src, src.byteLength - (src.byteLength % w)) as Uint8Array | Uint16Array | Uint32Array;
  const outW = mk(out, out.byteLength) as Uint8Array | Uint16Array | Uint32Array;
  const rank = shape.length;
  const idx = new Array<number>(rank).fill(0);
  let s = t.offset;
  for (let j = 0; j < n; j++) {
    for (let q = 0; q < k; q++) outW[j * k + q] = inW[s * k + q];
    for (let d = rank - 1; d >= 0; d--) {
      idx[d]++;
      s += t.stride[d];
      if (idx[d] < shape[d]) break;
      s -= t.stride[d] * shape[d];
      idx[d] = 0;
    }
  }
  return { dtype, shape, data: typedView(dtype, out.buffer, 0, n) };
}

function isTensorLike(x: unknown): boolean {
  return isHostTensor(x) || x instanceof PthView;
}

function hasTensors(x: unknown, depth = 0): boolean {
  if (depth > 8) return false;
  if (isTensorLike(x)) return true;
  if (x instanceof Map) for (const v of x.values()) if (hasTensors(v, depth + 1)) return true;
  return false;
}

/**
 * The state dict inside an unpickled checkpoint. A dict of tensors is returned as is; a dict that
 * nests one (under 'state_dict', 'params', 'model', 'netG', 'generator', … or as its only
 * tensor-holding value) is descended into; `key` ('a/b') selects the entry explicitly.
 * Non-tensor entries of the chosen dict are skipped; keys are kept exactly as stored.
 */
export function selectStateDict(obj: unknown, source = 'checkpoint', key?: string): StateDict {
  let cur = obj;
  if (key !== undefined) {
    for (const part of key.split('/').filter((s) => s !== '')) {
      if (!(cur instanceof Map) || !cur.has(part)) {
        const keys = cur instanceof Map ? [...cur.keys()].map(String).slice(0, 20).join(', ') : describeValue(cur);
        throw new Error(`${source}: no entry "${part}" (of key "${key}"); available: ${keys}`);
      }
      cur = cur.get(part);
    }
  }
  for (let depth = 0; ; depth++) {
    if (!(cur instanceof Map)) throw new Error(`${source}: the checkpoint holds ${describeValue(cur)}, not a dict of tensors`);
    if (cur.size === 0) return new Map(); // torch.save({}) is a valid, empty state dict
    const entries = [...cur.entries()];
    const direct = entries.filter(([, v]) => isTensorLike(v));
    const nested = entries.filter(([, v]) => !isTensorLike(v) && hasTensors(v));
    if (direct.length > 0 && nested.length === 0) {
      const out: StateDict = new Map();
      for (const [k, v] of direct) out.set(String(k), toHost(v));
      return out;
    }
    const preferred = STATE_DICT_KEYS.find((k) => nested.some(([n]) => n === k));
    if (depth < 4 && preferred !== undefined) {
      cur = cur.get(preferred);
      continue;
    }
    if (depth < 4 && nested.length === 1 && direct.length === 0) {
      cur = nested[0][1];
      continue;
    }
    const keys = entries.map(([k]) => String(k));
    throw new Error(
      `${source}: cannot tell which entry holds the state dict (keys: ${keys.slice(0, 20).join(', ')}${keys.length > 20 ? ', …' : ''}); ` +
        (nested.length ? `tensor-holding entries: ${nested.map(([k]) => String(k)).join(', ')}; pass the key explicitly` : 'no tensors found'),
    );
  }
}

function toHost(v: unknown): HostTensor {
  if (v instanceof PthView) return viewToHost(v);
  return v as HostTensor;
}

/** A contiguous copy of a PthView. */
export function viewToHost(v: PthView): HostTensor {
  const el = dtypeBytes(v.storage.dtype);
  const raw = new Uint8Array(v.storage.data.buffer, v.storage.data.byteOffset, v.storage.data.byteLength);
  const nbytes = numel(v.shape) * el;
  if (!Number.isSafeInteger(nbytes) || nbytes > 4 * raw.byteLength + 64 * 2 ** 20) {
    throw new Error(`view of shape [${v.shape}] would need ${nbytes} bytes from a ${raw.byteLength}-byte storage; refusing to allocate`);
  }
  const ref = new StorageRef('view', v.storage.dtype, raw.byteLength / el, 'cpu');
  return materialise(new TensorRef(ref, v.offset, v.shape, v.stride, v.requiresGrad), raw, false, 'view');
}

function describeValue(x: unknown): string {
  if (x === null || x === undefined) return 'None';
  if (isHostTensor(x)) return `a single tensor [${x.shape}]`;
  if (Array.isArray(x)) return isTuple(x) ? 'a tuple' : 'a list';
  return typeof x;
}

/** Every tensor in a nested object, keyed by its dotted path ('state_dict.module.0.weight'). */
export function flattenTensors(obj: unknown): StateDict {
  const out: StateDict = new Map();
  const seen = new Set<unknown>();
  const walk = (x: unknown, prefix: string, depth: number) => {
    if (depth > MAX_DEPTH || x === null || typeof x !== 'object') return;
    if (isTensorLike(x)) {
      out.set(prefix, toHost(x));
      return;
    }
    if (seen.has(x)) return;
    seen.add(x);
    const join = (k: unknown) => (prefix ? `${prefix}.${String(k)}` : String(k));
    if (x instanceof Map) for (const [k, v] of x) walk(v, join(k), depth + 1);
    else if (Array.isArray(x)) x.forEach((v, i) => walk(v, join(i), depth + 1));
  };
  walk(obj, '', 0);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Writing

/**
 * A value `serializePth` can write: None/bool/number/bigint/string, HostTensor (own storage,
 * contiguous), PthView (shared storages, strides), arrays (lists), Maps (a PyDict keeps its class;
 * a plain Map is written as collections.OrderedDict, like a state_dict).
 */
export type PthValue = unknown;

export interface PthWriteOptions {
  /** The archive's directory name (torch uses "archive" or the file's stem). */
  archiveName?: string;
}

/** Writes `dict` as a zip-format torch.save file (atomic), loadable by `torch.load`. */
export function writePth(file: string, dict: StateDict | Map<string, PthValue>, opts: PthWriteOptions = {}): void {
  writeFileAtomic(file, ...serializePth(dict, opts));
}

/** The bytes of a zip-format torch.save file holding `obj`, as chunks (tensor data not copied). */
export function serializePth(obj: PthValue, opts: PthWriteOptions = {}): Uint8Array[] {
  const archive = opts.archiveName ?? 'archive';
  if (!/^[^/\\]+$/.test(archive)) throw new Error(`invalid archive name "${archive}"`);
  const p = new TorchPickler();
  p.proto();
  p.save(obj, '');
  p.stop();
  const keys = [...p.storages.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return buildTorchZip([
    { name: `${archive}/data.pkl`, data: p.bytes() },
    ...keys.map((s) => ({ name: `${archive}/data/${s.key}`, data: s.bytes })),
    { name: `${archive}/version`, data: Buffer.from('3\n') },
  ]);
}

/** Emits pickle protocol 2 the way CPython's Pickler does for torch.save (same opcodes and memo). */
class TorchPickler {
  private chunks: Buffer[] = [];
  private cur = Buffer.alloc(1 << 16);
  private len = 0;
  private memoCount = 0;
  private inAttrs = false;
  private readonly memo = new Map<string, number>();
  readonly storages = new Map<PthStorage, { key: string; bytes: Uint8Array; numel: number }>();

  private ensure(k: number): void {
    if (this.len + k <= this.cur.length) return;
    this.chunks.push(this.cur.subarray(0, this.len));
    this.cur = Buffer.alloc(Math.max(1 << 16, k));
    this.len = 0;
  }
  private byte(b: number): void {
    this.ensure(1);
    this.cur[this.len++] = b;
  }
  private raw(b: Uint8Array): void {
    this.ensure(b.byteLength);
    this.cur.set(b, this.len);
    this.len += b.byteLength;
  }
  bytes(): Uint8Array {
    return Buffer.concat([...this.chunks, this.cur.subarray(0, this.len)]);
  }
  proto(): void {
    this.raw(Uint8Array.of(0x80, 2));
  }
  stop(): void {
    this.byte(0x2e);
  }
  private put(memoKey?: string): void {
    const i = this.memoCount++;
    if (memoKey !== undefined) this.memo.set(memoKey, i);
    if (i < 256) this.raw(Uint8Array.of(0x71, i));
    else {
      this.byte(0x72);
      this.u32(i);
    }
  }
  /** Emits a memo reference if `memoKey` was stored before (CPython memoises by object identity). */
  private get(memoKey: string): boolean {
    const i = this.memo.get(memoKey);
    if (i === undefined) return false;
    if (i < 256) this.raw(Uint8Array.of(0x68, i));
    else {
      this.byte(0x6a);
      this.u32(i);
    }
    return true;
  }
  private u32(v: number): void {
    this.ensure(4);
    this.cur.writeUInt32LE(v, this.len);
    this.len += 4;
  }
  global(module: string, name: string): void {
    const k = `g:${module}\n${name}`;
    if (this.get(k)) return;
    this.raw(Buffer.from(`c${module}\n${name}\n`, 'utf8'));
    this.put(k);
  }
  /** A str; `memoKey` marks strings that are one shared object in torch ('storage', 'cpu', storage keys). */
  str(s: string, memoKey?: string): void {
    if (memoKey !== undefined && this.get(memoKey)) return;
    const b = Buffer.from(s, 'utf8');
    this.byte(0x58);
    this.u32(b.byteLength);
    this.raw(b);
    this.put(memoKey);
  }
  int(v: number | bigint): void {
    if (typeof v === 'number' && !Number.isInteger(v)) {
      this.float(v);
      return;
    }
    const x = BigInt(v);
    if (x >= 0n && x <= 0xffn) this.raw(Uint8Array.of(0x4b, Number(x)));
    else if (x >= 0n && x <= 0xffffn) this.raw(Uint8Array.of(0x4d, Number(x) & 0xff, Number(x) >> 8));
    else if (x >= -0x80000000n && x <= 0x7fffffffn) {
      this.byte(0x4a);
      this.ensure(4);
      this.cur.writeInt32LE(Number(x), this.len);
      this.len += 4;
    } else {
      // LONG1: little-endian two's complement, minimal length (as pickle.encode_long).
      const bytes: number[] = [];
      let y = x;
      for (;;) {
        bytes.push(Number(y & 0xffn));
        y >>= 8n;
        const signBit = (bytes[bytes.length - 1] & 0x80) !== 0;
        if ((y === 0n && !signBit) || (y === -1n && signBit)) break;
      }
      this.raw(Uint8Array.of(0x8a, bytes.length, ...bytes));
    }
  }
  float(v: number): void {
    this.byte(0x47);
    this.ensure(8);
    this.cur.writeDoubleBE(v, this.len);
    this.len += 8;
  }
  /** A tuple of already-encodable items (CPython: EMPTY_TUPLE, TUPLE1-3 or MARK…TUPLE; memoised). */
  tuple(items: (() => void)[]): void {
    if (items.length === 0) {
      this.byte(0x29);
      return;
    }
    if (items.length > 3) this.byte(0x28);
    for (const f of items) f();
    this.byte(items.length > 3 ? 0x74 : 0x84 + items.length);
    this.put();
  }
  private emptyOrderedDict(): void {
    this.global('collections', 'OrderedDict');
    this.byte(0x29);
    this.byte(0x52);
    this.put();
  }
  private storageKey(s: PthStorage): { key: string; numel: number } {
    let e = this.storages.get(s);
    if (!e) {
      const el = dtypeBytes(s.dtype);
      const n = s.data.byteLength / el;
      if (!Number.isInteger(n)) throw new Error(`storage of ${s.dtype} has ${s.data.byteLength} bytes`);
      e = { key: String(this.storages.size), bytes: new Uint8Array(s.data.buffer, s.data.byteOffset, s.data.byteLength), numel: n };
      this.storages.set(s, e);
    }
    return e;
  }
  tensor(v: PthView, path: string): void {
    const { key, numel: total } = this.storageKey(v.storage);
    if (v.shape.length !== v.stride.length) throw new Error(`tensor "${path}": shape [${v.shape}] and stride [${v.stride}] differ in length`);
    const n = numel(v.shape);
    if (n > 0) {
      let last = v.offset;
      for (let d = 0; d < v.shape.length; d++) last += (v.shape[d] - 1) * v.stride[d];
      if (v.offset < 0 || last >= total) throw new Error(`tensor "${path}": view [${v.shape}] stride [${v.stride}] offset ${v.offset} exceeds its ${total}-element storage`);
    }
    this.global('torch._utils', '_rebuild_tensor_v2');
    this.byte(0x28);
    // persistent id ('storage', torch.<X>Storage, key, 'cpu', numel)
    this.tuple([
      () => this.str('storage', 's:storage'),
      () => this.global('torch', STORAGE_CLASS[v.storage.dtype]),
      () => this.str(key, `k:${key}`),
      () => this.str('cpu', 's:cpu'),
      () => this.int(total),
    ]);
    this.byte(0x51);
    this.int(v.offset);
    this.tuple(v.shape.map((d) => () => this.int(d)));
    this.tuple(v.stride.map((d) => () => this.int(d)));
    this.byte(v.requiresGrad ? 0x88 : 0x89);
    this.emptyOrderedDict(); // backward_hooks
    this.byte(0x74);
    this.put();
    this.byte(0x52);
    this.put();
  }
  save(x: PthValue, path: string): void {
    if (x === null || x === undefined) this.byte(0x4e);
    else if (x === true) this.byte(0x88);
    else if (x === false) this.byte(0x89);
    else if (typeof x === 'number' || typeof x === 'bigint') this.int(x);
    // `_metadata` dicts share one interned 'version' key object in CPython.
    else if (typeof x === 'string') this.str(x, this.inAttrs && x === 'version' ? 'i:version' : undefined);
    else if (x instanceof PthView) this.tensor(x, path);
    else if (isHostTensor(x)) {
      const n = numel(x.shape);
      if (x.data.length !== n) throw new Error(`tensor "${path}": ${x.data.length} values for shape [${x.shape}]`);
      const stride = x.shape.map((_, d) => x.shape.slice(d + 1).reduce((a, b) => a * b, 1));
      this.tensor(new PthView(x, 0, x.shape, stride), path);
    } else if (x instanceof Map) {
      if (x instanceof PyDict && x.pyClass === 'dict') {
        this.byte(0x7d);
        this.put();
      } else {
        this.emptyOrderedDict();
      }
      const items = [...x.entries()];
      for (let i = 0; i < items.length; i += 1000) {
        const batch = items.slice(i, i + 1000);
        if (batch.length > 1) this.byte(0x28);
        for (const [k, v] of batch) {
          this.save(k, path);
          this.save(v, path ? `${path}.${String(k)}` : String(k));
        }
        this.byte(batch.length > 1 ? 0x75 : 0x73);
      }
      if (x instanceof PyDict && x.attrs && x.attrs.size) {
        // Instance state (state_dict()._metadata), restored by BUILD as CPython's save_reduce does.
        this.byte(0x7d);
        this.put();
        const attrs = [...x.attrs.entries()];
        const wasInAttrs = this.inAttrs;
        this.inAttrs = true;
        if (attrs.length > 1) this.byte(0x28);
        for (const [k, v] of attrs) {
          this.save(k, path);
          this.save(v, path);
        }
        this.byte(attrs.length > 1 ? 0x75 : 0x73);
        this.inAttrs = wasInAttrs;
        this.byte(0x62);
      }
    } else if (Array.isArray(x)) {
      if (Object.isFrozen(x)) {
        this.tuple(x.map((v, i) => () => this.save(v, `${path}.${i}`)));
        return;
      }
      this.byte(0x5d);
      this.put();
      for (let i = 0; i < x.length; i += 1000) {
        const batch = x.slice(i, i + 1000);
        if (batch.length > 1) this.byte(0x28);
        batch.forEach((v, j) => this.save(v, `${path}.${i + j}`));
        this.byte(batch.length > 1 ? 0x65 : 0x61);
      }
    } else {
      throw new Error(`cannot save ${typeof x} at "${path}" in a .pth file`);
    }
  }
}

export { PickleError };
