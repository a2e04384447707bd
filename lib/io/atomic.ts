/**
 * Atomic file writes: data goes to a temporary file in the same directory, is fsynced, and is
 * renamed over the target, so a reader never sees a half-written file and a crash leaves the old
 * file intact.
 */
import * as fs from 'fs';
import * as path from 'path';
import { isRunning } from './pid';

let counter = 0;

/** A temporary name beside `target` (dot-file ending in .tmp, unique within the process). */
function tempName(target: string): string {
  return path.join(path.dirname(target), `.${path.basename(target)}.${process.pid}.${++counter}.tmp`);
}

/** The pid of the process that wrote `name` when it is one of tempName's names, else null. */
export function tempNameWriter(name: string): number | null {
  const m = /^\..+\.(\d+)\.\d+\.tmp$/.exec(name);
  return m ? Number(m[1]) : null;
}

/**
 * Removes the temporary files that writes killed mid-way (SIGKILL, power loss) left in `dir`
 * (not below it): only names of tempName's pattern, and not those of another process that is
 * still running (it may be writing them now). Returns the names removed.
 */
export function removeStaleTemps(dir: string): string[] {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  const removed: string[] = [];
  for (const n of names) {
    const pid = tempNameWriter(n);
    if (pid === null || (pid !== process.pid && isRunning(pid))) continue;
    const p = path.join(dir, n);
    if (!fs.lstatSync(p).isFile()) continue;
    fs.rmSync(p, { force: true });
    removed.push(n);
  }
  return removed;
}

/** fsync a directory so a rename inside it is durable (best effort: not supported everywhere). */
export function fsyncDir(dir: string): void {
  try {
    const fd = fs.openSync(dir, 'r');
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    // Some filesystems do not allow fsync on directories; the rename is still atomic.
  }
}

/**
 * What went wrong with a file operation, in words, without the syscall and temporary path Node
 * appends: `EROFS: read-only file system, open '.x.123.1.tmp'` → `read-only file system (EROFS)`.
 */
export function fsReason(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  if (err instanceof Error && typeof err.code === 'string') {
    const m = /^[A-Z0-9_]+: ([^,]+)/.exec(err.message);
    return `${m ? m[1] : err.message} (${err.code})`;
  }
  return e instanceof Error ? e.message : String(e);
}

/** An error naming `file` and what happened, keeping the errno code for callers that test it. */
function fileError(file: string, doing: string, e: unknown): Error {
  return Object.assign(new Error(`${file}: ${doing}: ${fsReason(e)}`), { code: (e as NodeJS.ErrnoException).code });
}

/**
 * Why `dir` could not be created. Node reports a read-only or unwritable parent as ENOENT on the
 * folder itself, so look at the nearest existing ancestor.
 */
function mkdirError(dir: string, e: unknown): Error {
  let p = path.resolve(dir);
  while (!fs.existsSync(p) && path.dirname(p) !== p) p = path.dirname(p);
  let cause = e;
  if (!fs.statSync(p).isDirectory()) cause = new Error(`${p} is a file, not a folder`);
  else {
    try {
      fs.accessSync(p, fs.constants.W_OK);
    } catch (a) {
      cause = new Error(`${p} is not writable: ${fsReason(a)}`);
    }
  }
  return fileError(dir, 'cannot create the folder', cause);
}

/** mkdir -p whose error names the folder and the real obstacle (read-only parent, a file in the way). */
export function ensureDir(dir: string): void {
  try {
    fs.mkdirSync(dir, { recursive: true });
  } catch (e) {
    throw mkdirError(dir, e);
  }
}

/** Creates `dir` if needed and checks that files can be written in it, before any work is done. */
export function checkWritableDir(dir: string, what = 'output folder'): void {
  ensureDir(dir);
  try {
    fs.accessSync(dir, fs.constants.W_OK);
  } catch (e) {
    throw fileError(dir, `${what} is not writable`, e);
  }
}

/** Writes `chunks` to `target` atomically (creating parent directories). */
export function writeFileAtomic(target: string, ...chunks: Array<Uint8Array | string>): void {
  ensureDir(path.dirname(target));
  const tmp = tempName(target);
  let fd: number;
  try {
    fd = fs.openSync(tmp, 'w');
  } catch (e) {
    throw fileError(target, 'cannot write', e);
  }
  try {
    for (const c of chunks) {
      const buf = typeof c === 'string' ? Buffer.from(c, 'utf8') : c;
      let off = 0;
      while (off < buf.byteLength) off += fs.writeSync(fd, buf, off, buf.byteLength - off);
    }
    fs.fsyncSync(fd);
  } catch (e) {
    fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw fileError(target, 'cannot write', e);
  }
  fs.closeSync(fd);
  try {
    fs.renameSync(tmp, target);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw fileError(target, 'cannot write', e);
  }
  fsyncDir(path.dirname(target));
}

/** JSON with a trailing newline, written atomically. */
export function writeJsonAtomic(target: string, value: unknown): void {
  writeFileAtomic(target, JSON.stringify(value, null, 2) + '\n');
}

/**
 * Asynchronous writeFileAtomic for bulk writes: many files can be flushed concurrently (on ext4
 * one synchronous fsync costs ~10 ms while eight concurrent ones cost < 1 ms per file).
 */
export async function writeFileAtomicAsync(target: string, data: Uint8Array): Promise<void> {
  const dir = path.dirname(target);
  await fs.promises.mkdir(dir, { recursive: true }).catch((e) => {
    throw mkdirError(dir, e);
  });
  const tmp = tempName(target);
  const fh = await fs.promises.open(tmp, 'w').catch((e) => {
    throw fileError(target, 'cannot write', e);
  });
  try {
    await fh.writeFile(data);
    await fh.sync();
  } catch (e) {
    await fh.close();
    await fs.promises.rm(tmp, { force: true });
    throw fileError(target, 'cannot write', e);
  }
  await fh.close();
  try {
    await fs.promises.rename(tmp, target);
  } catch (e) {
    await fs.promises.rm(tmp, { force: true });
    throw fileError(target, 'cannot write', e);
  }
}
