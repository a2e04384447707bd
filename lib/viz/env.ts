/**
 * Quick mode for notebooks: `PROPAINTER_QUICK=1` (set by `npm run notebooks -- --quick`) asks a
 * notebook to shrink sizes and iteration counts so CI can execute every notebook in seconds.
 */

export const QUICK_ENV = 'PROPAINTER_QUICK';

export function isQuick(): boolean {
  const v = (process.env[QUICK_ENV] ?? '').trim().toLowerCase();
  return v !== '' && v !== '0' && v !== 'false' && v !== 'no';
}

/** `full` normally, `small` in quick mode: `const iterations = quick(2000, 5)`. */
export function quick<T>(full: T, small: T): T {
  return isQuick() ? small : full;
}

/**
 * Folder for the files a notebook generates: `reports/<name>` (git-ignored), or
 * `$PROPAINTER_WORK_DIR/<name>` when set (tests run notebooks against a temporary folder).
 */
export function workDir(name: string): string {
  const base = process.env.PROPAINTER_WORK_DIR;
  return base ? `${base.replace(/\/+$/, '')}/${name}` : `reports/${name}`;
}
