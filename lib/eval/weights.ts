/**
 * The weight files an evaluation uses: their official names inside a weights folder, and how a
 * file is identified in results.json (path, size, SHA-256), so an evaluation folder says exactly
 * which checkpoints produced its numbers and a resume never mixes two checkpoints.
 */
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import type { WeightInfo } from './results';

/** File names inside `--weights DIR` (the official release's, and the LPIPS / torchvision ones). */
export const EVAL_WEIGHT_FILES = {
  raft: 'raft-things.pth',
  flowcomp: 'recurrent_flow_completion.pth',
  propainter: 'ProPainter.pth',
  i3d: 'i3d_rgb_imagenet.pt',
  /** lpips package, weights/v0.1/alex.pth (the linear heads). */
  lpips: 'alex.pth',
  /** torchvision AlexNet, the LPIPS trunk. */
  lpips_trunk: 'alexnet-owt-7be5be79.pth',
} as const;

export type EvalWeightRole = keyof typeof EVAL_WEIGHT_FILES;

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
