/** Shared pieces of the training tests: a small synthetic dataset root and tiny configs. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { writeSynthDataset } from '../../lib/data/prepare';

/** A synthetic root (PNG frames, float32 .flo ground-truth flows, test masks) of `size`², cached per process. */
export async function synthRoot(size = 32, videos = 3, frames = 8): Promise<string> {
  const root = path.join(os.tmpdir(), `pp-train-synth-${size}-${videos}-${frames}-${process.pid}`);
  if (!fs.existsSync(path.join(root, 'train.json'))) {
    await writeSynthDataset({ out: root, videos, frames, width: size, height: size, seed: 3, format: 'png', floEncoding: 'float32', maxSpeed: 2 });
  }
  return root;
}

export function tmpDir(tag: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `pp-${tag}-`));
}

/** A flow-completion config at size², 3 local frames, flows from .flo files. */
export function flowcompConfig(root: string, saveDir: string, size = 32, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: 'test_flowcomp',
    model: 'recurrent_flow_completion',
    seed: 7,
    save_dir: saveDir,
    datasets: { train: { root, width: size, height: size, num_local_frames: 3, num_ref_frames: 0, load_flow: true } },
    train: { lr: 1e-3, total_iter: 1000, save_freq: 1000, val_freq: 0, log_freq: 1, image_freq: 0, batch_size: 1, beta1: 0.9, beta2: 0.99 },
    ...extra,
  };
}

/** A ProPainter config: 2 local + 1 reference frame, det-init frozen flow completion. */
export function propainterConfig(root: string, saveDir: string, size = 32, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: 'test_propainter',
    model: 'propainter',
    seed: 7,
    save_dir: saveDir,
    datasets: { train: { root, width: size, height: size, num_local_frames: 2, num_ref_frames: 1, load_flow: true } },
    networks: { allow_det_init: true, interp_mode: 'nearest', discriminator: true },
    train: { lr: 1e-4, total_iter: 1000, save_freq: 1000, val_freq: 0, log_freq: 1, image_freq: 0, batch_size: 1 },
    loss: { adversarial_weight: 0.01, gan_type: 'hinge' },
    ...extra,
  };
}
