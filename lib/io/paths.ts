/**
 * Names read from files (video names in split files, image names in a run's sample index, …)
 * are untrusted: each is resolved inside the folder it belongs to, or the command stops naming
 * the entry. Without this check `{"../../x": 2}` in an index file writes or reads outside the
 * dataset.
 */
import * as fs from 'fs';
import * as path from 'path';

export interface InsideOptions {
  /**
   * Also resolve symbolic links: an existing target's real path must lie inside the root's real
   * path (for files whose contents leave the machine, e.g. images embedded in a report).
   */
  real?: boolean;
}

/** True when `child` is `parent` or lies below it (lexically, after resolving both). */
export function isInside(parent: string, child: string): boolean {
  const rel = path.relative(path.resolve(parent), path.resolve(child));
  return rel === '' || (!rel.startsWith(`..${path.sep}`) && rel !== '..' && !path.isAbsolute(rel));
}

/**
 * The absolute path of `name` below `root`. Throws `<entry> "<name>" points outside <root>` when
 * the name is empty, absolute, contains NUL, is the root itself or leaves it through `..` (or, with
 * `real`, through a symbolic link). `entry` says where the name was read, e.g.
 * `/data/train.json: video`.
 */
export function resolveInside(root: string, name: string, entry: string, opts: InsideOptions = {}): string {
  const base = path.resolve(root);
  const fail = (why: string): never => {
    throw new Error(`${entry} ${JSON.stringify(name)} ${why}`);
  };
  if (typeof name !== 'string' || name.length === 0) fail('is not a valid name');
  if (name.includes('\0')) fail('contains a NUL character');
  if (path.isAbsolute(name)) fail(`is an absolute path; names must be relative to ${base}`);
  const full = path.resolve(base, name);
  if (full === base || !isInside(base, full)) fail(`points outside ${base}`);
  if (opts.real && fs.existsSync(full)) {
    const real = fs.realpathSync(full);
    if (!isInside(fs.realpathSync(base), real)) fail(`is a link to ${real}, outside ${base}`);
  }
  return full;
}
