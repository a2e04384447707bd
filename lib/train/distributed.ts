/**
 * Data-parallel training (DDP semantics, spec §10.1) on top of lib/dist: what one rank of a
 * multi-process run shares with the others. Rank 0 is the reference: its resolved config, data
 * position and seed, and its network weights are broadcast before the first step; each step's G
 * and D gradients are averaged over the ranks (bucketed) before clipping and the optimizer
 * update, so every rank applies the same update to the same weights.
 */
import * as tf from '@tensorflow/tfjs-core';
import { allreduceMeanTensors, broadcastBytes, broadcastTensors, type Communicator } from '../dist';
import type { Module } from '../nn/module';
import type { TrainConfig } from './config';
import type { DataPosition } from './data';
import type { GradientReducer, OptimizerRole } from './system';

/** What rank 0 decides for the job before building anything: its config and where the data starts. */
export interface SharedStart {
  config: TrainConfig;
  start: DataPosition | number;
}

/** Rank 0's config and data position on every rank (other ranks' own copies are replaced). */
export function shareStart(comm: Communicator, mine: SharedStart): SharedStart {
  if (comm.size === 1) return mine;
  const bytes = broadcastBytes(comm, comm.rank === 0 ? new TextEncoder().encode(JSON.stringify(mine)) : null);
  return comm.rank === 0 ? mine : (JSON.parse(new TextDecoder().decode(bytes)) as SharedStart);
}

/**
 * Rank 0's values of every float32 parameter and buffer of `modules` assigned on every rank
 * (integer buffers are constants of the architecture). Names are prefixed by the module's index.
 */
export function broadcastWeights(comm: Communicator, modules: readonly Module[]): void {
  if (comm.size === 1) return;
  const vars = new Map<string, tf.Variable>();
  modules.forEach((m, i) => {
    for (const [name, v] of [...m.namedParameters(), ...m.namedBuffers()]) if (v.dtype === 'float32') vars.set(`${i}.${name}`, v);
  });
  const got = broadcastTensors(comm, Object.fromEntries(vars));
  for (const [name, v] of vars) {
    v.assign(got[name]);
    got[name].dispose();
  }
}

/**
 * The gradient hook of a rank: G or D gradients replaced by their mean over the ranks. `params`
 * lists each optimizer's parameters: a parameter without a gradient on some ranks (a data-dependent
 * path left it unused there) counts as zero on those ranks, as DDP's find_unused_parameters does;
 * one with a gradient on no rank stays without one.
 */
export function averageOverRanks(comm: Communicator, params: Partial<Record<OptimizerRole, ReadonlyArray<[string, tf.Variable]>>>): GradientReducer {
  return (role, grads) => {
    const list = params[role];
    if (!list) throw new Error(`averageOverRanks: no parameter list for optimizer ${role}`);
    const present = Float32Array.from(list, ([name]) => (grads.has(name) ? 1 : 0));
    comm.allreduceMean(present);
    const all = new Map(grads);
    const zeros: tf.Tensor[] = [];
    list.forEach(([name, v], i) => {
      if (present[i] > 0 && !all.has(name)) {
        const z = tf.zeros(v.shape);
        zeros.push(z);
        all.set(name, z);
      }
    });
    const mean = allreduceMeanTensors(comm, Object.fromEntries(all));
    tf.dispose([...grads.values(), ...zeros]);
    return new Map(Object.entries(mean));
  };
}

/**
 * Thrown on every rank when some rank could not read its batches for an iteration: all stop at
 * that iteration (rank 0 saves the last completed one). `own` is this rank's read error, null on
 * the ranks that read theirs.
 */
export class RankReadFailed extends Error {
  constructor(readonly ranks: number[], readonly own: unknown, size: number, iteration: number) {
    super(`${ranks.map((r) => `rank ${r}`).join(', ')} of ${size} could not read the batch of iteration ${iteration}; stopped every rank`);
  }
}

/** How long a rank that read its batch waits for the failing rank to end the job before ending it itself. */
export const PEER_FAILURE_GRACE_MS = 2000;

/** One tiny allreduce per step, before its collectives: throws RankReadFailed on every rank when any rank's `error` is set. */
export function agreeAllRead(comm: Communicator, error: unknown, iteration: number): void {
  const failed = new Float32Array(comm.size);
  if (error) failed[comm.rank] = 1;
  comm.allreduceMean(failed);
  const ranks = [...failed.keys()].filter((r) => failed[r] > 0);
  if (ranks.length) throw new RankReadFailed(ranks, error ?? null, comm.size, iteration);
}
