import * as fs from 'fs';
import type { Module } from '../nn/module';
import { loadCheckpoint } from '../io/checkpoint';

/**
 * Loads an official PyTorch checkpoint (.pth, zip or legacy format, with or without a
 * DataParallel `module.` prefix) or one of our safetensors files into `model` (strict).
 */
export function loadWeights(model: Module, file: string): void {
  const dict = loadCheckpoint(file);
  try {
    model.loadStateDict(dict);
  } catch (e) {
    (e as Error).message = `${file}: ${(e as Error).message}`;
    throw e;
  }
}

/**
 * Builds a model and loads user-supplied pretrained weights into it; a missing file is an error
 * that names it and says that nothing is downloaded. `what` describes the expected file.
 */
export function loadPretrained<M extends Module>(create: () => M, file: string, name: string, what: string): M {
  if (!fs.existsSync(file)) {
    throw new Error(
      `${name} weights not found: ${file}. Pretrained weights (${what}) are user-supplied and never ` +
        `downloaded by this tool; place the file there or pass its path.`,
    );
  }
  const model = create();
  try {
    loadWeights(model, file);
  } catch (e) {
    model.dispose();
    throw e;
  }
  return model;
}
