/**
 * The collective operations data-parallel training needs, over one process (no-ops) or an MPI job
 * (lib/dist/mpi.ts). Every rank calls the same operations in the same order with buffers of the
 * same length; the calls block until all ranks have made them.
 */
export type CommunicatorKind = 'single' | 'openmpi' | 'mpich';

export interface Communicator {
  readonly kind: CommunicatorKind;
  readonly rank: number;
  readonly size: number;
  /** Rank among the processes on this node. */
  readonly localRank: number;
  /** Library and version, for logs ("Open MPI v4.1.4", "MPICH 4.0.2"). */
  readonly library: string;
  /** Replaces `buf` on every rank by the element-wise mean of all ranks' buffers. */
  allreduceMean(buf: Float32Array): void;
  /** Copies rank 0's `buf` into every other rank's `buf` (same length everywhere). */
  broadcast(buf: Uint8Array | Float32Array): void;
  barrier(): void;
  /** Ends every rank of the job with `code` (never returns). */
  abort(code?: number): never;
  /** Leaves the job cleanly; every rank calls it once, after its last collective. */
  finalize(): void;
}

/** One process: means and broadcasts leave the buffer as it is. */
export class SingleProcess implements Communicator {
  readonly kind = 'single';
  readonly rank = 0;
  readonly size = 1;
  readonly localRank = 0;
  readonly library = 'none (one process)';
  allreduceMean(_buf: Float32Array): void {}
  broadcast(_buf: Uint8Array | Float32Array): void {}
  barrier(): void {}
  abort(code = 1): never {
    process.exit(code);
  }
  finalize(): void {}
}

/**
 * Rank 0's bytes on every rank when only rank 0 knows the length (configs, RNG states): the
 * length goes first, then the content.
 */
export function broadcastBytes(comm: Communicator, data: Uint8Array | null): Uint8Array {
  if (comm.rank === 0 && !data) throw new Error('broadcastBytes: rank 0 must provide the data');
  const header = new Uint8Array(4);
  if (comm.rank === 0) new DataView(header.buffer).setUint32(0, (data as Uint8Array).length, true);
  comm.broadcast(header);
  const out = comm.rank === 0 ? (data as Uint8Array) : new Uint8Array(new DataView(header.buffer).getUint32(0, true));
  comm.broadcast(out);
  return out;
}

/**
 * True on every rank when any rank asks to stop (a signal, the launcher gone): all ranks then stop
 * after the same step. One tiny allreduce; call it once per step on every rank.
 */
export function agreeToStop(comm: Communicator, localStop: boolean): boolean {
  const flag = new Float32Array([localStop ? 1 : 0]);
  comm.allreduceMean(flag);
  return flag[0] > 0;
}
