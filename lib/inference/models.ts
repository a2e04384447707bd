/**
 * The three networks of inference, from a weights folder with the official release file names
 * (`.pth`, or `.safetensors` with the same stem), or with det-init v1 weights (smoke runs and the
 * parity fixtures; never trained weights).
 */
import * as fs from 'fs';
import * as path from 'path';
import { RAFT } from '../models/raft';
import { RecurrentFlowCompleteNet } from '../models/flow-completion';
import { InpaintGenerator } from '../models/propainter';
import { loadWeights } from '../models/weights';
import { applyDetInit } from '../init/apply';
import type { Module } from '../nn/module';
import type { InpaintModels } from './pipeline';

/** Official release file names (sczhou/ProPainter v0.1.0) by network. */
export const OFFICIAL_WEIGHT_FILES = {
  raft: 'raft-things.pth',
  flowComplete: 'recurrent_flow_completion.pth',
  generator: 'ProPainter.pth',
} as const;

export type NetworkName = keyof typeof OFFICIAL_WEIGHT_FILES;

const WHAT: Record<NetworkName, string> = {
  raft: 'RAFT optical flow',
  flowComplete: 'recurrent flow completion',
  generator: 'ProPainter generator',
};

function build(): InpaintModels {
  return { raft: new RAFT(), flowComplete: new RecurrentFlowCompleteNet(), generator: new InpaintGenerator() };
}

/** The file of `net` in `dir`: the official .pth, else a .safetensors of the same stem; a one-line error names both. */
export function weightFile(dir: string, net: NetworkName): string {
  const pth = path.join(dir, OFFICIAL_WEIGHT_FILES[net]);
  const st = pth.replace(/\.pth$/, '.safetensors');
  if (fs.existsSync(pth)) return pth;
  if (fs.existsSync(st)) return st;
  throw new Error(
    `missing weight file ${pth} (the ${WHAT[net]} weights: ${OFFICIAL_WEIGHT_FILES[net]} from the official ProPainter release, ` +
      `or ${path.basename(st)}); nothing is downloaded — place it there, pass --weights DIR, or make det-init weights for a smoke run with \`propainter weights det-init --out DIR\``,
  );
}

/** Loads the three networks from `dir` (all files are checked before any is read). */
export function loadInferenceModels(dir: string): InpaintModels {
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new Error(`weights folder not found: ${dir}`);
  const files = { raft: weightFile(dir, 'raft'), flowComplete: weightFile(dir, 'flowComplete'), generator: weightFile(dir, 'generator') };
  const models = build();
  try {
    for (const net of Object.keys(files) as NetworkName[]) loadWeights(models[net] as Module, files[net]);
  } catch (e) {
    disposeModels(models);
    throw e;
  }
  return models;
}

/** The three networks with det-init v1 weights (what the inference fixtures ran with). */
export function detInitModels(): InpaintModels {
  const models = build();
  for (const m of Object.values(models)) applyDetInit(m as Module);
  return models;
}

export function disposeModels(models: InpaintModels): void {
  for (const m of Object.values(models)) (m as Module).dispose();
}
