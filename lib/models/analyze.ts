/**
 * Model analysis: parameters per module, multiply-accumulates of one forward (counted from the
 * kernels TF.js actually runs, via tf.profile) and peak tensor memory of that forward.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Module } from '../nn/module';

export interface ModuleRow {
  name: string;
  params: number;
}

export interface KernelRow {
  kernel: string;
  calls: number;
  macs: number;
}

export interface Analysis {
  model: string;
  totalParams: number;
  modules: ModuleRow[];
  input?: string;
  macs?: number;
  kernels?: KernelRow[];
  peakBytes?: number;
  forwardMs?: number;
}

/** Trainable parameters grouped by module path up to `depth` levels (aliases counted once). */
export function parameterTable(model: Module, depth = 1): ModuleRow[] {
  const rows = new Map<string, number>();
  for (const [name, v] of model.namedParameters()) {
    const parts = name.split('.');
    const key = parts.slice(0, Math.min(depth, parts.length - 1)).join('.') || '(root)';
    rows.set(key, (rows.get(key) ?? 0) + v.size);
  }
  return [...rows].map(([name, params]) => ({ name, params }));
}

const prod = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

/** Multiply-accumulates of one kernel call from its input/output shapes (0 for cheap ops). */
export function kernelMacs(name: string, inputs: number[][], outputs: number[][]): number {
  const out = outputs[0] ?? [];
  switch (name) {
    case 'Conv2D':
    case 'FusedConv2D': {
      const [kh, kw, ci] = inputs[1];
      return prod(out) * kh * kw * ci;
    }
    case 'Conv2DBackpropInput': {
      // conv2dTranspose(x, filter [kh, kw, out, in]) runs as Conv2DBackpropInput with dy = x.
      const dy = inputs.find((s) => s.length === 4 && s !== inputs[1]) ?? inputs[0];
      const [kh, kw, co] = inputs[1];
      return prod(dy) * kh * kw * co;
    }
    case 'DepthwiseConv2dNative':
    case 'FusedDepthwiseConv2D': {
      const [kh, kw] = inputs[1];
      return prod(out) * kh * kw;
    }
    case 'Conv3D': {
      const [kt, kh, kw, ci] = inputs[1];
      return prod(out) * kt * kh * kw * ci;
    }
    case 'BatchMatMul':
    case '_FusedMatMul': {
      // out = [..., M, N]; `a` is [..., M, K] or, transposed, [..., K, M].
      const a = inputs[0];
      const m = out[out.length - 2];
      const k = a[a.length - 1] === m && a[a.length - 2] !== m ? a[a.length - 2] : a[a.length - 1];
      return prod(out) * k;
    }
    default:
      return 0;
  }
}

/** Profiles `forward` (which must dispose its own outputs): MACs per kernel and peak bytes. */
export async function profileForward(forward: () => void): Promise<{ macs: number; kernels: KernelRow[]; peakBytes: number; ms: number }> {
  const t0 = Date.now();
  const info = await tf.profile(() => {
    forward();
  });
  const ms = Date.now() - t0;
  const byKernel = new Map<string, KernelRow>();
  let macs = 0;
  for (const k of info.kernels) {
    const m = kernelMacs(k.name, k.inputShapes as number[][], k.outputShapes as number[][]);
    macs += m;
    const row = byKernel.get(k.name) ?? { kernel: k.name, calls: 0, macs: 0 };
    row.calls += 1;
    row.macs += m;
    byKernel.set(k.name, row);
  }
  const kernels = [...byKernel.values()].filter((r) => r.macs > 0).sort((a, b) => b.macs - a.macs);
  return { macs, kernels, peakBytes: info.peakBytes, ms };
}

export function formatCount(n: number): string {
  return n.toLocaleString('en-US');
}

export function formatAnalysis(a: Analysis): string {
  const lines: string[] = [];
  const w = Math.max(12, ...a.modules.map((m) => m.name.length));
  lines.push(`${a.model}: ${formatCount(a.totalParams)} parameters`);
  lines.push(`${'module'.padEnd(w)}  ${'params'.padStart(12)}  share`);
  for (const m of a.modules) lines.push(`${m.name.padEnd(w)}  ${formatCount(m.params).padStart(12)}  ${((100 * m.params) / a.totalParams).toFixed(1).padStart(5)}%`);
  lines.push(`${'total'.padEnd(w)}  ${formatCount(a.totalParams).padStart(12)}`);
  if (a.macs !== undefined) {
    lines.push('');
    lines.push(`forward on ${a.input}: ${(a.macs / 1e9).toFixed(2)} GMACs, peak tensor memory ${((a.peakBytes ?? 0) / 2 ** 20).toFixed(0)} MiB, ${a.forwardMs} ms (${tf.getBackend()})`);
    for (const k of a.kernels ?? []) lines.push(`  ${k.kernel.padEnd(22)} ${String(k.calls).padStart(6)} calls  ${(k.macs / 1e9).toFixed(3).padStart(10)} GMACs`);
  }
  return lines.join('\n');
}
