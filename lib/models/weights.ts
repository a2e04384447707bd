import type { Module } from '../nn/module';

/**
 * Loads an official PyTorch checkpoint (.pth, zip or legacy format, with or without a
 * DataParallel `module.` prefix) or one of our safetensors files into `model` (strict).
 */
export function loadWeights(model: Module, file: string): void {
  const { loadCheckpoint } = require('../io/checkpoint') as { loadCheckpoint(f: string): import('../io/host-tensor').StateDict };
  const dict = loadCheckpoint(file);
  try {
    model.loadStateDict(dict);
  } catch (e) {
    (e as Error).message = `${file}: ${(e as Error).message}`;
    throw e;
  }
}
