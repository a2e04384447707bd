/**
 * Official PyTorch reference times for the issue-16 workloads, so `npm run bench -- models` and
 * `-- train` can print the ratio beside each row.
 *
 * Provenance: issue #16 ("Performance: RAFT, flow completion, generator and both training steps
 * within 2× of official PyTorch on the same CPU"), measured side by side on the project's 2-vCPU
 * machine: official ProPainter code on PyTorch 1.13 CPU (Debian python3-torch 1.13.1), 2 threads,
 * det-init weights, medians. The ProPainter step there excludes the frozen networks (RAFT and
 * flow completion run with requires_grad=False); the port's step includes their forward.
 */
export interface ReferenceTime {
  /** What was timed, in the words. */
  work: string;
  /** Median seconds of the official implementation. */
  pytorchS: number;
  /** The port's median before issue 16 (wasm, one thread, kernel pack), for the record. */
  portBeforeS: number;
  /** The goal: at most this many seconds (2× PyTorch). */
  targetS: number;
}

export const PYTORCH_REFERENCE = {
  raft: { work: 'RAFT, one call, 1 frame pair 240×432, 20 iterations', pytorchS: 1.23, portBeforeS: 7.04, targetS: 2.5 },
  flowcomp: { work: 'flow completion forward, 10 frames 240×432', pytorchS: 5.13, portBeforeS: 12.3, targetS: 10 },
  propainter: { work: 'generator forward, 10 local frames 240×432', pytorchS: 29.6, portBeforeS: 61.7, targetS: 59 },
  'train-flowcomp': { work: 'flow-completion train step, 5 frames 120×216', pytorchS: 2.55, portBeforeS: 7.61, targetS: 5.1 },
  'train-propainter': { work: 'ProPainter train step G+D, 5+1 frames 120×216', pytorchS: 11.5, portBeforeS: 39.4, targetS: 23 },
} as const satisfies Record<string, ReferenceTime>;

export type ReferenceName = keyof typeof PYTORCH_REFERENCE;

/** "3.1× PyTorch (1.23 s), target ≤ 2.5 s: met" for a measured median in seconds. */
export function fmtRatio(name: ReferenceName, medianS: number): string {
  const r = PYTORCH_REFERENCE[name];
  return `${(medianS / r.pytorchS).toFixed(1)}× PyTorch (${r.pytorchS} s), target ≤ ${r.targetS} s: ${medianS <= r.targetS ? 'met' : 'not met'}`;
}
