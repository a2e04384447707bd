/**
 * One entry point for weight files: safetensors (the project's format) or PyTorch .pth/.pt
 * (zip or legacy), told apart by their first bytes, never by the extension.
 */
import * as fs from 'fs';
import { fsReason } from './atomic';
import { StateDict } from './host-tensor';
import { LEGACY_MAGIC, PthReadOptions, hexHead, readPth } from './pth';
import { readSafetensors, writeSafetensors } from './safetensors';
import { looksLikeZip } from './zip';

export type CheckpointFormat = 'safetensors' | 'pth-zip' | 'pth-legacy';

export interface LoadCheckpointOptions extends PthReadOptions {
  /** Strip a 'module.' prefix present on every key (DataParallel checkpoints). Default true. */
  stripModulePrefix?: boolean;
}

/** Identifies a checkpoint by its first bytes; throws a descriptive error for anything else. */
export function detectCheckpointFormat(file: string): CheckpointFormat {
  let fd: number;
  try {
    // Opening a folder succeeds on Linux; reading it then fails with a bare EISDIR.
    if (fs.statSync(file).isDirectory()) throw new Error('it is a folder, not a checkpoint file');
    fd = fs.openSync(file, 'r');
  } catch (e) {
    throw new Error(`${file}: cannot read the checkpoint: ${fsReason(e)}`);
  }
  const head = new Uint8Array(512);
  let got: number;
  let size: number;
  try {
    size = fs.fstatSync(fd).size;
    got = fs.readSync(fd, head, 0, head.length, 0);
  } finally {
    fs.closeSync(fd);
  }
  return formatFromHead(head.subarray(0, got), size, file);
}

/** Format of a file whose first (up to 512) bytes are `head` and whose length is `size`. */
export function formatFromHead(head: Uint8Array, size: number, file = 'checkpoint'): CheckpointFormat {
  if (size === 0) throw new Error(`${file}: empty file (0 bytes), not a checkpoint`);
  if (looksLikeZip(head)) return 'pth-zip';
  if (head[0] === 0x80 && head.length >= 2 && head[1] >= 2 && head[1] <= 5) {
    // torch.save legacy: PROTO n, [FRAME], LONG1 10 <magic> — check the magic when it is plainly there.
    const magic = legacyMagicBytes();
    const at = head[2] === 0x95 ? 11 : 2;
    if (head.length >= at + 12 && head[at] === 0x8a && head[at + 1] === 10 && magic.every((b, i) => head[at + 2 + i] === b)) {
      return 'pth-legacy';
    }
    throw new Error(`${file}: a Python pickle but not a PyTorch checkpoint (first bytes ${hexHead(head)}); ` +
      'only torch.save files and safetensors can be loaded');
  }
  if (head.length >= 9 && size >= 10) {
    const n = new DataView(head.buffer, head.byteOffset, head.byteLength).getBigUint64(0, true);
    if (head[8] === 0x7b /* { */ && n >= 2n) {
      if (n + 8n > BigInt(size)) {
        throw new Error(`${file}: truncated safetensors file: header of ${n} bytes but the file has ${size} bytes`);
      }
      return 'safetensors';
    }
  }
  const text = Buffer.from(head.subarray(0, 200)).toString('latin1');
  if (text.startsWith('version https://git-lfs')) {
    throw new Error(`${file}: this is a Git LFS pointer (${size} bytes), not the weights: fetch the real file (git lfs pull)`);
  }
  if (/^\s*<(!doctype|html|\?xml)/i.test(text)) {
    throw new Error(`${file}: this is an HTML/XML page (${size} bytes), not a checkpoint — probably a failed download`);
  }
  if (head.length > 262 && Buffer.from(head.subarray(257, 262)).toString('latin1') === 'ustar') {
    throw new Error(`${file}: a tar archive (torch.save format of torch < 0.1.10?), which is not supported`);
  }
  throw new Error(`${file}: not a PyTorch checkpoint or safetensors file (first bytes ${hexHead(head)}, ${size} bytes)`);
}

let magicCache: number[] | undefined;
function legacyMagicBytes(): number[] {
  if (!magicCache) {
    magicCache = [];
    let v = LEGACY_MAGIC;
    for (let i = 0; i < 10; i++) {
      magicCache.push(Number(v & 0xffn));
      v >>= 8n;
    }
  }
  return magicCache;
}

/** Strips 'module.' from every key when all keys have it (nn.DataParallel / DDP checkpoints). */
export function stripModulePrefix(dict: StateDict): StateDict {
  if (dict.size === 0) return dict;
  for (const k of dict.keys()) if (!k.startsWith('module.')) return dict;
  const out: StateDict = new Map();
  for (const [k, v] of dict) out.set(k.slice('module.'.length), v);
  return out;
}

/** Loads the state dict of a safetensors or PyTorch checkpoint (format from magic bytes). */
export function loadCheckpoint(file: string, opts: LoadCheckpointOptions = {}): StateDict {
  const format = detectCheckpointFormat(file);
  const dict = format === 'safetensors' ? readSafetensors(file).tensors : readPth(file, opts);
  return opts.stripModulePrefix ?? true ? stripModulePrefix(dict) : dict;
}

/** Saves a state dict as safetensors (atomically) with optional string metadata. */
export function saveCheckpoint(file: string, dict: StateDict, metadata: Record<string, string> = {}): void {
  writeSafetensors(file, dict, metadata);
}
