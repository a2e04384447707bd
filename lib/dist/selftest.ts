/**
 * Checks and timings of a job's collectives (`propainter dist-check`, `npm run bench -- dist`):
 * run on every rank, they test what training relies on before a long run does.
 */
import type { Communicator } from './communicator';
import { broadcastBytes } from './communicator';

/** Throws, naming the operation and the first wrong element, when a collective gives a wrong value. */
export function checkCollectives(comm: Communicator): void {
  const { rank, size } = comm;
  // Rank r holds (r + 1) · (i % 5 + 1); the mean (size + 1)/2 · (i % 5 + 1) is exact in float32.
  const n = 100_003;
  const a = Float32Array.from({ length: n }, (_, i) => (rank + 1) * ((i % 5) + 1));
  comm.allreduceMean(a);
  const mean = (size + 1) / 2;
  for (let i = 0; i < n; i++) {
    if (a[i] !== mean * ((i % 5) + 1)) throw new Error(`rank ${rank}: allreduce-mean element ${i} is ${a[i]}, expected ${mean * ((i % 5) + 1)}`);
  }
  const f = Float32Array.from({ length: 1000 }, (_, i) => (rank === 0 ? i - 0.5 : NaN));
  comm.broadcast(f);
  for (let i = 0; i < f.length; i++) {
    if (f[i] !== i - 0.5) throw new Error(`rank ${rank}: broadcast element ${i} is ${f[i]}, expected ${i - 0.5}`);
  }
  const text = `rank 0 of ${size}`;
  const got = new TextDecoder().decode(broadcastBytes(comm, rank === 0 ? new TextEncoder().encode(text) : null));
  if (got !== text) throw new Error(`rank ${rank}: broadcast bytes gave "${got}", expected "${text}"`);
  comm.barrier();
}

/** Milliseconds of each of `reps` allreduce-means of `floats` elements on this rank (ranks start together). */
export function timeAllreduce(comm: Communicator, floats: number, reps: number): number[] {
  const buf = new Float32Array(floats).fill(comm.rank);
  const ms: number[] = [];
  for (let r = 0; r < reps; r++) {
    comm.barrier();
    const t0 = performance.now();
    comm.allreduceMean(buf);
    ms.push(performance.now() - t0);
  }
  return ms;
}
