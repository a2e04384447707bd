/**
 * RaftCorrLookup, a kernel added for the wasm backend only: RAFT's windowed correlation lookup
 * over the pyramid levels kept on the heap, in the pack's wasm module (kernels.wat `corr_lookup`:
 * ~2 ms per RAFT iteration at 240×432 against ~9 ms for the host loop in JS, and no read-back of
 * the pyramid). Inputs coords [N, h, w, 2]
 * and level0 … level{L−1} [Q, lh, lw(, 1)]; attrs radius. Same bits as corrLookupHost.
 */
import { corrLookupHost } from './corr-lookup';
import { simdKernels } from './simd';
import { type KernelArgs, type TI, heapOffset } from './wasm-util';

export function raftCorrLookup({ inputs, backend, attrs }: KernelArgs): TI {
  const { coords } = inputs;
  if (coords.dtype !== 'float32') throw new Error(`RaftCorrLookup: coords must be float32, got ${coords.dtype}`);
  const radius = attrs.radius as number;
  const levels: TI[] = [];
  for (let l = 0; inputs[`level${l}`]; l++) levels.push(inputs[`level${l}`]);
  const [n, h, w] = coords.shape;
  const q = n * h * w;
  const k = 2 * radius + 1;
  const perLevel = k * k;
  const sizes = levels.map((t) => [t.shape[1], t.shape[2]] as [number, number]);
  levels.forEach((t) => {
    if (t.shape[0] !== q) throw new Error(`RaftCorrLookup: a level holds ${t.shape[0]} queries, coords ${q}`);
  });
  const outShape = [n, h, w, levels.length * perLevel];
  const simd = simdKernels(backend);
  if (!simd) {
    return backend.makeOutput(outShape, 'float32', undefined,
      corrLookupHost(levels.map((t) => backend.typedArrayFromHeap(t) as Float32Array), sizes, q, backend.typedArrayFromHeap(coords), radius));
  }
  const out = backend.makeOutput(outShape, 'float32');
  // float64 scratch: window g [(k+1)²] and the x-blend [k·(k+1)]
  const scratch = backend.makeOutput([2 * ((k + 1) * (k + 1) + k * (k + 1))], 'float32');
  try {
    levels.forEach((t, l) => {
      simd.corr_lookup(heapOffset(backend, t), sizes[l][0], sizes[l][1], heapOffset(backend, coords), q, radius, 1 / 2 ** l,
        heapOffset(backend, out) + 4 * l * perLevel, 4 * levels.length * perLevel, heapOffset(backend, scratch));
    });
  } finally {
    backend.disposeData(scratch.dataId);
  }
  return out;
}
