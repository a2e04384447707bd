/**
 * A safe Python unpickler (protocols 0–5) for PyTorch checkpoints.
 *
 * It interprets the pickle opcodes as data only: it never runs code and resolves GLOBAL /
 * STACK_GLOBAL only against a fixed whitelist of PyTorch rebuild functions, storage classes and
 * `collections.OrderedDict`, each implemented here in TypeScript. Any other global (`os.system`,
 * `builtins.eval`, …) is refused when it is named, before anything could call it. Every length
 * field is checked against the bytes that remain, and integers parsed from text are length-capped,
 * so a hostile file costs at most time and memory proportional to its size.
 *
 * Python values map to: None → null, bool → boolean, int → number (bigint beyond 2^53),
 * float → number, str → string, bytes/bytearray → Uint8Array, list → array, tuple → frozen
 * array, dict → PyDict (a Map), set/frozenset → Set.
 */
import type { DType } from './host-tensor';

export class PickleError extends Error {
  constructor(message: string, readonly source: string, readonly offset: number) {
    super(message);
    this.name = 'PickleError';
  }
}

/** The pickle ran past the end of the available bytes (file truncated, or a bogus length). */
export class PickleTruncatedError extends PickleError {
  constructor(message: string, source: string, offset: number, readonly needed: number) {
    super(message, source, offset);
    this.name = 'PickleTruncatedError';
  }
}

/** A dict (or collections.OrderedDict); `attrs` holds instance state set by BUILD (e.g. `_metadata`). */
export class PyDict extends Map<unknown, unknown> {
  attrs?: Map<unknown, unknown>;
  constructor(readonly pyClass: 'dict' | 'collections.OrderedDict' = 'dict') {
    super();
  }
}

/** A whitelisted global as it sits on the unpickler stack. */
export class PyGlobal {
  constructor(
    readonly module: string,
    readonly name: string,
    readonly call?: (args: readonly unknown[]) => unknown,
    readonly newobj?: (args: readonly unknown[]) => unknown,
  ) {}
  get qualname(): string {
    return `${this.module}.${this.name}`;
  }
}

/** A torch storage class (torch.FloatStorage, …): only a dtype tag inside persistent ids. */
export class TorchStorageType extends PyGlobal {
  constructor(module: string, name: string, readonly dtype: DType) {
    super(module, name);
  }
}

/** A storage named by a persistent id; `pth.ts` fills in the bytes after unpickling. */
export class StorageRef {
  constructor(
    readonly key: string,
    readonly dtype: DType,
    /** Number of elements. */
    readonly numel: number,
    readonly location: string,
    /** Legacy-format storage view: this storage is elements [offset, offset + numel) of `root`. */
    readonly view?: { root: StorageRef; offset: number },
  ) {}
}

/** A tensor as `torch._utils._rebuild_tensor_v2` describes it: a strided view of a storage. */
export class TensorRef {
  constructor(
    readonly storage: StorageRef,
    readonly offset: number,
    readonly shape: number[],
    readonly stride: number[],
    public requiresGrad: boolean,
  ) {}
}

export function isTuple(x: unknown): x is readonly unknown[] {
  return Array.isArray(x) && Object.isFrozen(x);
}

function tuple(items: unknown[]): readonly unknown[] {
  return Object.freeze(items);
}

const STORAGE_DTYPES: Record<string, DType> = {
  FloatStorage: 'float32', DoubleStorage: 'float64', HalfStorage: 'float16', BFloat16Storage: 'bfloat16',
  LongStorage: 'int64', IntStorage: 'int32', ShortStorage: 'int16', CharStorage: 'int8',
  ByteStorage: 'uint8', BoolStorage: 'bool',
};

function describe(x: unknown): string {
  if (x === null) return 'None';
  if (x instanceof PyGlobal) return x.qualname;
  if (x instanceof PyDict) return x.pyClass;
  if (x instanceof TensorRef) return 'a tensor';
  if (x instanceof StorageRef) return 'a storage';
  if (isTuple(x)) return 'a tuple';
  if (Array.isArray(x)) return 'a list';
  if (x instanceof Uint8Array) return 'bytes';
  if (x instanceof Set) return 'a set';
  return typeof x === 'string' ? `the string ${JSON.stringify(x.slice(0, 40))}` : typeof x;
}

function dims(x: unknown, what: string): number[] {
  if (!Array.isArray(x)) throw new Error(`${what} must be a tuple, got ${describe(x)}`);
  return x.map((d) => {
    if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0) throw new Error(`${what} has invalid entry ${String(d)}`);
    return d;
  });
}

function rebuildTensor(args: readonly unknown[], fn: string): TensorRef {
  const [storage, offset, size, stride, requiresGrad] = args;
  if (!(storage instanceof StorageRef)) throw new Error(`${fn}: first argument must be a storage, got ${describe(storage)}`);
  if (typeof offset !== 'number' || !Number.isSafeInteger(offset) || offset < 0) throw new Error(`${fn}: invalid storage offset ${String(offset)}`);
  const shape = dims(size, `${fn}: size`);
  const strides = dims(stride, `${fn}: stride`);
  if (shape.length !== strides.length) throw new Error(`${fn}: size [${shape}] and stride [${strides}] differ in length`);
  return new TensorRef(storage, offset, shape, strides, requiresGrad === true);
}

function rebuildParameter(args: readonly unknown[], fn: string): TensorRef {
  const [data, requiresGrad] = args;
  if (!(data instanceof TensorRef)) throw new Error(`${fn}: first argument must be a tensor, got ${describe(data)}`);
  data.requiresGrad = requiresGrad === true;
  return data;
}

function orderedDict(args: readonly unknown[]): PyDict {
  const d = new PyDict('collections.OrderedDict');
  if (args.length === 0) return d;
  const items = args[0];
  if (args.length > 1 || !Array.isArray(items)) throw new Error(`collections.OrderedDict: unsupported arguments (${args.map(describe).join(', ')})`);
  for (const kv of items) {
    if (!Array.isArray(kv) || kv.length !== 2) throw new Error('collections.OrderedDict: items must be (key, value) pairs');
    d.set(kv[0], kv[1]);
  }
  return d;
}

/**
 * The globals a PyTorch checkpoint may name: tensor/parameter rebuild functions, storage classes,
 * torch.Size and OrderedDict. Keyed by "module name" as in the GLOBAL opcode.
 */
export function torchGlobals(): Map<string, PyGlobal> {
  const g = new Map<string, PyGlobal>();
  const add = (x: PyGlobal) => g.set(`${x.module} ${x.name}`, x);
  add(new PyGlobal('collections', 'OrderedDict', orderedDict, () => new PyDict('collections.OrderedDict')));
  add(new PyGlobal('torch._utils', '_rebuild_tensor_v2', (a) => rebuildTensor(a, '_rebuild_tensor_v2')));
  add(new PyGlobal('torch._utils', '_rebuild_tensor', (a) => rebuildTensor(a, '_rebuild_tensor')));
  add(new PyGlobal('torch._utils', '_rebuild_parameter', (a) => rebuildParameter(a, '_rebuild_parameter')));
  add(new PyGlobal('torch._utils', '_rebuild_parameter_with_state', (a) => rebuildParameter(a, '_rebuild_parameter_with_state')));
  add(new PyGlobal('torch', 'Size', (a) => tuple(dims(a[0], 'torch.Size'))));
  for (const [name, dtype] of Object.entries(STORAGE_DTYPES)) {
    add(new TorchStorageType('torch', name, dtype));
    // Old GPU checkpoints name the CUDA classes; only the dtype matters here.
    add(new TorchStorageType('torch.cuda', name, dtype));
  }
  return g;
}

const DEFAULT_GLOBALS = torchGlobals();

export interface UnpickleOptions {
  /** Names the file in error messages. */
  source?: string;
  /** Where the pickle starts in `data`. */
  offset?: number;
  /** Resolves persistent ids (BINPERSID / PERSID); without it they are an error. */
  persistentLoad?: (pid: unknown) => unknown;
  /** Allowed globals (default: torchGlobals()). */
  globals?: Map<string, PyGlobal>;
  /** Bytes in the whole file beyond `data` (for messages only). */
  fileSize?: number;
}

export interface UnpickleResult {
  value: unknown;
  /** Offset just past the STOP opcode. */
  end: number;
}

const MAX_DIGITS = 4300; // as CPython's int_max_str_digits: parsing longer numbers is quadratic
const MAX_LONG_BYTES = 4096;
const utf8 = new TextDecoder('utf-8', { fatal: false });

const OPNAMES: Record<number, string> = {
  0x28: 'MARK', 0x2e: 'STOP', 0x30: 'POP', 0x31: 'POP_MARK', 0x32: 'DUP', 0x46: 'FLOAT', 0x49: 'INT', 0x4a: 'BININT',
  0x4b: 'BININT1', 0x4c: 'LONG', 0x4d: 'BININT2', 0x4e: 'NONE', 0x50: 'PERSID', 0x51: 'BINPERSID', 0x52: 'REDUCE',
  0x53: 'STRING', 0x54: 'BINSTRING', 0x55: 'SHORT_BINSTRING', 0x56: 'UNICODE', 0x58: 'BINUNICODE', 0x61: 'APPEND',
  0x62: 'BUILD', 0x63: 'GLOBAL', 0x64: 'DICT', 0x7d: 'EMPTY_DICT', 0x65: 'APPENDS', 0x67: 'GET', 0x68: 'BINGET',
  0x69: 'INST', 0x6a: 'LONG_BINGET', 0x6c: 'LIST', 0x5d: 'EMPTY_LIST', 0x6f: 'OBJ', 0x70: 'PUT', 0x71: 'BINPUT',
  0x72: 'LONG_BINPUT', 0x73: 'SETITEM', 0x74: 'TUPLE', 0x29: 'EMPTY_TUPLE', 0x75: 'SETITEMS', 0x47: 'BINFLOAT',
  0x80: 'PROTO', 0x81: 'NEWOBJ', 0x82: 'EXT1', 0x83: 'EXT2', 0x84: 'EXT4', 0x85: 'TUPLE1', 0x86: 'TUPLE2',
  0x87: 'TUPLE3', 0x88: 'NEWTRUE', 0x89: 'NEWFALSE', 0x8a: 'LONG1', 0x8b: 'LONG4', 0x42: 'BINBYTES',
  0x43: 'SHORT_BINBYTES', 0x8c: 'SHORT_BINUNICODE', 0x8d: 'BINUNICODE8', 0x8e: 'BINBYTES8', 0x8f: 'EMPTY_SET',
  0x90: 'ADDITEMS', 0x91: 'FROZENSET', 0x92: 'NEWOBJ_EX', 0x93: 'STACK_GLOBAL', 0x94: 'MEMOIZE', 0x95: 'FRAME',
  0x96: 'BYTEARRAY8', 0x97: 'NEXT_BUFFER', 0x98: 'READONLY_BUFFER',
};

/** Unpickles one pickle from `data` (starting at `opts.offset`). Throws PickleError on anything unsafe or malformed. */
export function unpickle(data: Uint8Array, opts: UnpickleOptions = {}): UnpickleResult {
  const source = opts.source ?? 'pickle data';
  const globals = opts.globals ?? DEFAULT_GLOBALS;
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const n = data.byteLength;
  let pos = opts.offset ?? 0;
  let opStart = pos;
  let op = 0;
  const stack: unknown[] = [];
  const marks: number[] = [];
  const memo = new Map<number, unknown>();

  const where = () => `at byte ${opStart} (opcode ${OPNAMES[op] ?? '0x' + op.toString(16)})`;
  const fail = (msg: string): never => {
    throw new PickleError(`${source}: ${msg} ${where()}`, source, opStart);
  };
  const need = (len: number, what: string) => {
    if (len < 0 || pos + len > n) {
      const left = n - pos;
      const file = opts.fileSize !== undefined ? `; the file is ${opts.fileSize} bytes` : '';
      throw new PickleTruncatedError(
        `${source}: ${what} of ${len} bytes ${where()} exceeds the ${left} bytes that remain (truncated or corrupt file${file})`,
        source, opStart, pos + len,
      );
    }
  };
  const take = (len: number, what: string): Uint8Array => {
    need(len, what);
    const b = data.subarray(pos, pos + len);
    pos += len;
    return b;
  };
  const u8 = () => take(1, 'argument')[0];
  const u16 = () => {
    need(2, 'argument');
    const v = view.getUint16(pos, true);
    pos += 2;
    return v;
  };
  const u32 = () => {
    need(4, 'argument');
    const v = view.getUint32(pos, true);
    pos += 4;
    return v;
  };
  const i32 = () => {
    need(4, 'argument');
    const v = view.getInt32(pos, true);
    pos += 4;
    return v;
  };
  const u64 = (what: string) => {
    need(8, what);
    const v = view.getBigUint64(pos, true);
    pos += 8;
    if (v > BigInt(n)) {
      throw new PickleTruncatedError(`${source}: ${what} of ${v} bytes ${where()} is larger than the data (${n - pos} bytes remain; truncated or corrupt file)`, source, opStart, Number.MAX_SAFE_INTEGER);
    }
    return Number(v);
  };
  const line = (what: string): string => {
    const max = Math.min(n, pos + 65536);
    let e = pos;
    while (e < max && data[e] !== 0x0a) e++;
    if (e >= n) need(e - pos + 1, `${what} line`);
    if (e >= max) fail(`${what} line longer than 64 KiB`);
    const s = Buffer.from(data.subarray(pos, e)).toString('latin1');
    pos = e + 1;
    return s;
  };
  const pop = (): unknown => {
    if (stack.length === 0 || (marks.length && stack.length <= marks[marks.length - 1])) fail('stack underflow');
    return stack.pop();
  };
  const top = (): unknown => {
    if (stack.length === 0) fail('stack underflow');
    return stack[stack.length - 1];
  };
  const popMark = (): unknown[] => {
    const m = marks.pop();
    if (m === undefined) fail('no MARK on the stack');
    return stack.splice(m as number);
  };
  const memoGet = (i: number) => {
    if (!memo.has(i)) fail(`memo key ${i} was never stored`);
    return memo.get(i);
  };
  const resolveGlobal = (module: string, name: string): PyGlobal => {
    const g = globals.get(`${module} ${name}`);
    if (!g) {
      throw new PickleError(
        `${source}: refusing to load Python global '${module}.${name}' ${where()}: only PyTorch tensor/storage rebuild ` +
          'functions and collections.OrderedDict are allowed (the file may be malicious, or it pickles objects other than ' +
          'tensors; re-save it with torch.save(model.state_dict()) or as safetensors)',
        source, opStart,
      );
    }
    return g as PyGlobal;
  };
  const call = (fn: unknown, args: unknown, how: string): unknown => {
    if (!(fn instanceof PyGlobal)) fail(`${how} on ${describe(fn)}, which is not an allowed callable`);
    const g = fn as PyGlobal;
    if (!Array.isArray(args)) fail(`${how} of ${g.qualname} with non-tuple arguments (${describe(args)})`);
    const impl = how === 'REDUCE' || how === 'INST' || how === 'OBJ' ? g.call : g.newobj;
    if (!impl) fail(`${how} of ${g.qualname} is not allowed (it is only valid as a type tag)`);
    try {
      return impl!(args as unknown[]);
    } catch (e) {
      if (e instanceof PickleError) throw e;
      return fail(`invalid call to ${g.qualname}: ${(e as Error).message}`);
    }
  };
  const parseInt10 = (s: string, what: string): number | bigint => {
    const t = s.trim().replace(/L$/, '');
    if (!/^[+-]?\d+$/.test(t)) fail(`malformed ${what} ${JSON.stringify(s.slice(0, 40))}`);
    if (t.length > MAX_DIGITS) fail(`${what} with ${t.length} digits is too long`);
    return normInt(BigInt(t));
  };
  const longFromBytes = (b: Uint8Array): number | bigint => {
    if (b.length === 0) return 0;
    let v = 0n;
    for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
    if (b[b.length - 1] & 0x80) v -= 1n << BigInt(8 * b.length);
    return normInt(v);
  };
  const text = (b: Uint8Array) => utf8.decode(b);

  let proto = 0;
  for (;;) {
    opStart = pos;
    if (pos >= n) {
      throw new PickleTruncatedError(`${source}: pickle ends at byte ${pos} without a STOP opcode (truncated file)`, source, pos, pos + 1);
    }
    op = data[pos++];
    try {
      switch (op) {
        case 0x80: // PROTO
          proto = u8();
          if (proto > 5) fail(`unsupported pickle protocol ${proto}`);
          break;
        case 0x95: // FRAME: just a length hint
          u64('frame');
          break;
        case 0x2e: { // STOP
          const value = pop();
          return { value, end: pos };
        }
        case 0x28: marks.push(stack.length); break; // MARK
        case 0x30: // POP
          if (marks.length && stack.length === marks[marks.length - 1]) popMark();
          else pop();
          break;
        case 0x31: popMark(); break; // POP_MARK
        case 0x32: stack.push(top()); break; // DUP
        case 0x4e: stack.push(null); break; // NONE
        case 0x88: stack.push(true); break; // NEWTRUE
        case 0x89: stack.push(false); break; // NEWFALSE
        case 0x4a: stack.push(i32()); break; // BININT
        case 0x4b: stack.push(u8()); break; // BININT1
        case 0x4d: stack.push(u16()); break; // BININT2
        case 0x49: { // INT (text; "00"/"01" are False/True)
          const s = line('INT');
          if (s === '00' || s === '01') stack.push(s === '01');
          else stack.push(parseInt10(s, 'INT'));
          break;
        }
        case 0x4c: stack.push(parseInt10(line('LONG'), 'LONG')); break; // LONG
        case 0x8a: stack.push(longFromBytes(take(u8(), 'LONG1'))); break; // LONG1
        case 0x8b: { // LONG4
          const len = i32();
          if (len < 0) fail('negative LONG4 length');
          if (len > MAX_LONG_BYTES) fail(`LONG4 of ${len} bytes is too long`);
          stack.push(longFromBytes(take(len, 'LONG4')));
          break;
        }
        case 0x46: { // FLOAT (text)
          const s = line('FLOAT').trim();
          const v = Number(s === 'nan' ? NaN : s === 'inf' ? Infinity : s === '-inf' ? -Infinity : s);
          if (Number.isNaN(v) && s !== 'nan') fail(`malformed FLOAT ${JSON.stringify(s.slice(0, 40))}`);
          stack.push(v);
          break;
        }
        case 0x47: { // BINFLOAT (big-endian double)
          need(8, 'BINFLOAT');
          stack.push(view.getFloat64(pos, false));
          pos += 8;
          break;
        }
        case 0x53: stack.push(pyStringLiteral(line('STRING'), fail)); break; // STRING (protocol 0 repr)
        case 0x54: { // BINSTRING
          const len = i32();
          if (len < 0) fail('negative BINSTRING length');
          stack.push(text(take(len, 'BINSTRING')));
          break;
        }
        case 0x55: stack.push(text(take(u8(), 'SHORT_BINSTRING'))); break; // SHORT_BINSTRING
        case 0x56: stack.push(rawUnicodeEscape(line('UNICODE'))); break; // UNICODE
        case 0x58: stack.push(text(take(u32(), 'BINUNICODE'))); break; // BINUNICODE
        case 0x8c: stack.push(text(take(u8(), 'SHORT_BINUNICODE'))); break; // SHORT_BINUNICODE
        case 0x8d: stack.push(text(take(u64('BINUNICODE8'), 'BINUNICODE8'))); break; // BINUNICODE8
        case 0x42: stack.push(take(u32(), 'BINBYTES').slice()); break; // BINBYTES
        case 0x43: stack.push(take(u8(), 'SHORT_BINBYTES').slice()); break; // SHORT_BINBYTES
        case 0x8e: stack.push(take(u64('BINBYTES8'), 'BINBYTES8').slice()); break; // BINBYTES8
        case 0x96: stack.push(take(u64('BYTEARRAY8'), 'BYTEARRAY8').slice()); break; // BYTEARRAY8
        case 0x97: fail('out-of-band buffers (NEXT_BUFFER) are not supported'); break;
        case 0x98: top(); break; // READONLY_BUFFER: no-op on our copies
        case 0x29: stack.push(tuple([])); break; // EMPTY_TUPLE
        case 0x74: stack.push(tuple(popMark())); break; // TUPLE
        case 0x85: stack.push(tuple([pop()])); break; // TUPLE1
        case 0x86: { // TUPLE2
          const b = pop();
          const a = pop();
          stack.push(tuple([a, b]));
          break;
        }
        case 0x87: { // TUPLE3
          const c = pop();
          const b = pop();
          const a = pop();
          stack.push(tuple([a, b, c]));
          break;
        }
        case 0x5d: stack.push([]); break; // EMPTY_LIST
        case 0x6c: stack.push(popMark()); break; // LIST
        case 0x61: { // APPEND
          const v = pop();
          const l = top();
          if (!Array.isArray(l) || isTuple(l)) fail(`APPEND to ${describe(l)}`);
          (l as unknown[]).push(v);
          break;
        }
        case 0x65: { // APPENDS
          const items = popMark();
          const l = top();
          if (!Array.isArray(l) || isTuple(l)) fail(`APPENDS to ${describe(l)}`);
          for (const v of items) (l as unknown[]).push(v);
          break;
        }
        case 0x7d: stack.push(new PyDict()); break; // EMPTY_DICT
        case 0x64: { // DICT
          const items = popMark();
          if (items.length % 2) fail('odd number of items for DICT');
          const d = new PyDict();
          for (let i = 0; i < items.length; i += 2) d.set(dictKey(items[i], fail), items[i + 1]);
          stack.push(d);
          break;
        }
        case 0x73: { // SETITEM
          const v = pop();
          const k = pop();
          const d = top();
          if (!(d instanceof PyDict)) fail(`SETITEM on ${describe(d)}`);
          (d as PyDict).set(dictKey(k, fail), v);
          break;
        }
        case 0x75: { // SETITEMS
          const items = popMark();
          const d = top();
          if (!(d instanceof PyDict)) fail(`SETITEMS on ${describe(d)}`);
          if (items.length % 2) fail('odd number of items for SETITEMS');
          for (let i = 0; i < items.length; i += 2) (d as PyDict).set(dictKey(items[i], fail), items[i + 1]);
          break;
        }
        case 0x8f: stack.push(new Set()); break; // EMPTY_SET
        case 0x90: { // ADDITEMS
          const items = popMark();
          const s = top();
          if (!(s instanceof Set)) fail(`ADDITEMS on ${describe(s)}`);
          for (const v of items) (s as Set<unknown>).add(v);
          break;
        }
        case 0x91: stack.push(new Set(popMark())); break; // FROZENSET
        case 0x67: stack.push(memoGet(Number(parseInt10(line('GET'), 'GET index')))); break; // GET
        case 0x68: stack.push(memoGet(u8())); break; // BINGET
        case 0x6a: stack.push(memoGet(u32())); break; // LONG_BINGET
        case 0x70: memo.set(Number(parseInt10(line('PUT'), 'PUT index')), top()); break; // PUT
        case 0x71: memo.set(u8(), top()); break; // BINPUT
        case 0x72: memo.set(u32(), top()); break; // LONG_BINPUT
        case 0x94: memo.set(memo.size, top()); break; // MEMOIZE
        case 0x63: { // GLOBAL
          const module = line('GLOBAL module');
          const name = line('GLOBAL name');
          stack.push(resolveGlobal(module, name));
          break;
        }
        case 0x93: { // STACK_GLOBAL
          const name = pop();
          const module = pop();
          if (typeof module !== 'string' || typeof name !== 'string') fail('STACK_GLOBAL needs two strings');
          stack.push(resolveGlobal(module as string, name as string));
          break;
        }
        case 0x82: case 0x83: case 0x84: { // EXT1/2/4: the copyreg extension registry names globals too
          const code = op === 0x82 ? u8() : op === 0x83 ? u16() : i32();
          fail(`refusing extension-registry global (code ${code}); only whitelisted PyTorch globals are allowed`);
          break;
        }
        case 0x52: { // REDUCE
          const args = pop();
          const fn = pop();
          stack.push(call(fn, args, 'REDUCE'));
          break;
        }
        case 0x81: { // NEWOBJ
          const args = pop();
          const cls = pop();
          stack.push(call(cls, args, 'NEWOBJ'));
          break;
        }
        case 0x92: { // NEWOBJ_EX
          const kwargs = pop();
          const args = pop();
          const cls = pop();
          if (!(kwargs instanceof PyDict) || kwargs.size) fail(`NEWOBJ_EX of ${describe(cls)} with keyword arguments is not allowed`);
          stack.push(call(cls, args, 'NEWOBJ'));
          break;
        }
        case 0x69: { // INST
          const module = line('INST module');
          const name = line('INST name');
          const g = resolveGlobal(module, name);
          stack.push(call(g, popMark(), 'INST'));
          break;
        }
        case 0x6f: { // OBJ
          const items = popMark();
          if (items.length === 0) fail('OBJ without a class');
          stack.push(call(items[0], items.slice(1), 'OBJ'));
          break;
        }
        case 0x62: { // BUILD
          const state = pop();
          const obj = top();
          build(obj, state, fail);
          break;
        }
        case 0x51: { // BINPERSID
          const pid = pop();
          if (!opts.persistentLoad) fail('persistent id without a persistent_load handler');
          stack.push(persistent(opts.persistentLoad!, pid, fail));
          break;
        }
        case 0x50: { // PERSID (text)
          const pid = line('PERSID');
          if (!opts.persistentLoad) fail('persistent id without a persistent_load handler');
          stack.push(persistent(opts.persistentLoad!, pid, fail));
          break;
        }
        default:
          throw new PickleError(
            `${source}: unknown pickle opcode 0x${op.toString(16).padStart(2, '0')} (${JSON.stringify(String.fromCharCode(op))}) at byte ${opStart}` +
              ' (corrupt file, or not a pickle)',
            source, opStart,
          );
      }
    } catch (e) {
      if (e instanceof PickleError) throw e;
      // Internal failures (e.g. a RangeError) still name the file and offset.
      throw new PickleError(`${source}: malformed pickle ${where()}: ${(e as Error).message}`, source, opStart);
    }
  }
}

function normInt(v: bigint): number | bigint {
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

function dictKey(k: unknown, fail: (m: string) => never): unknown {
  // Keys compare by value in Python; our Map compares objects by identity, which is fine for
  // state dicts (string keys) — only refuse unhashable Python types.
  if (Array.isArray(k) && !isTuple(k)) fail('unhashable list used as a dict key');
  if (k instanceof PyDict) fail('unhashable dict used as a dict key');
  return k;
}

function build(obj: unknown, state: unknown, fail: (m: string) => never): void {
  if (obj instanceof PyDict) {
    // OrderedDict.__reduce__ carries instance attributes (state_dict()._metadata) as state.
    let attrs = state;
    if (isTuple(state) && state.length === 2) attrs = state[0] ?? state[1];
    if (attrs === null) return;
    if (!(attrs instanceof PyDict)) fail(`BUILD of ${obj.pyClass} with ${describe(state)}`);
    obj.attrs ??= new Map();
    for (const [k, v] of attrs as PyDict) obj.attrs.set(k, v);
    return;
  }
  fail(`BUILD (setting object state) on ${describe(obj)} is not allowed`);
}

function persistent(load: (pid: unknown) => unknown, pid: unknown, fail: (m: string) => never): unknown {
  try {
    return load(pid);
  } catch (e) {
    if (e instanceof PickleError) throw e;
    return fail(`bad persistent id: ${(e as Error).message}`);
  }
}

/** Protocol-0 STRING argument: a Python bytes repr such as 'abc' or "it's" with escapes. */
function pyStringLiteral(s: string, fail: (m: string) => never): string {
  const t = s.trimEnd();
  const q = t[0];
  if (t.length < 2 || (q !== "'" && q !== '"') || t[t.length - 1] !== q) fail(`malformed STRING ${JSON.stringify(t.slice(0, 40))}`);
  const body = t.slice(1, -1);
  const bytes: number[] = [];
  for (let i = 0; i < body.length; i++) {
    const c = body[i];
    if (c !== '\\') {
      bytes.push(body.charCodeAt(i) & 0xff);
      continue;
    }
    const d = body[++i];
    const simple: Record<string, number> = { n: 10, r: 13, t: 9, '\\': 92, "'": 39, '"': 34, a: 7, b: 8, f: 12, v: 11, '0': 0 };
    if (d === 'x') {
      const h = body.slice(i + 1, i + 3);
      if (!/^[0-9a-fA-F]{2}$/.test(h)) fail('malformed \\x escape in STRING');
      bytes.push(parseInt(h, 16));
      i += 2;
    } else if (d >= '0' && d <= '7') {
      let j = i;
      while (j < i + 3 && body[j] >= '0' && body[j] <= '7') j++;
      bytes.push(parseInt(body.slice(i, j), 8) & 0xff);
      i = j - 1;
    } else if (d in simple) {
      bytes.push(simple[d]);
    } else {
      bytes.push(92, body.charCodeAt(i) & 0xff);
    }
  }
  return utf8.decode(Uint8Array.from(bytes));
}

/** Protocol-0 UNICODE argument (raw-unicode-escape: latin-1 with \uXXXX / \UXXXXXXXX). */
function rawUnicodeEscape(s: string): string {
  return s.replace(/\\u([0-9a-fA-F]{4})|\\U([0-9a-fA-F]{8})/g, (_, a: string | undefined, b: string | undefined) =>
    String.fromCodePoint(parseInt((a ?? b)!, 16)));
}
