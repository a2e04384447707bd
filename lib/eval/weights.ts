/**
 * How a weight file an evaluation uses is identified in results.json (path, size, SHA-256), so an
 * evaluation folder says exactly which checkpoints produced its numbers and a resume never mixes
 * two checkpoints. (The files' names inside a weights folder: lib/inference OFFICIAL_WEIGHT_FILES.)
 */
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import type { WeightInfo } from './results';

/** Path, size and SHA-256 of a weight file (read in 8 MB pieces). */
export function weightInfo(file: string): WeightInfo {
  const full = path.resolve(file);
  const hash = crypto.createHash('sha256');
  const fd = fs.openSync(full, 'r');
  const buf = Buffer.allocUnsafe(8 << 20);
  let bytes = 0;
  try {
    for (;;) {
      const n = fs.readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      hash.update(buf.subarray(0, n));
      bytes += n;
    }
  } finally {
    fs.closeSync(fd);
  }
  return { path: full, bytes, sha256: hash.digest('hex') };
}
