/**
 * A batch loader that prefetches in worker threads.
 *
 * - Order is deterministic: epoch e visits the dataset in `Rng(seed, 'shuffle', e)` order (or in
 *   index order without shuffling), batch k goes to worker k mod N, and batches are yielded in
 *   k order whatever the finishing order. Sample content depends only on (seed, epoch, index),
 *   so 0 and N workers give byte-identical batches.
 * - Sharded (data-parallel training, `shard`): every process walks the same sequence of global
 *   batches of `batchSize × count` samples and takes its own contiguous `batchSize` of each, so
 *   the shards are disjoint, their union is what one process with the total batch would load,
 *   and a position (epoch, batch) means the same on any number of processes.
 * - At most `prefetch` batches are in flight (bounded memory); batch buffers are transferred,
 *   not copied, from the workers.
 * - An error in a worker (e.g. a corrupt frame) rejects the iteration with the worker's message,
 *   which names the file; the loader then shuts its workers down.
 * - `close()` (also called when a `for await` loop exits) terminates the workers. Idle workers
 *   are unref'd, so a forgotten loader does not keep the process alive.
 */
import * as path from 'path';
import { Worker } from 'worker_threads';
import { Rng } from './rng';
import { Batch, collate } from './sample';
import { createDataset, Dataset, DatasetSpec, specOf } from './spec';

export interface LoaderOptions {
  /** Samples per batch (of this process when sharded). */
  batchSize?: number;
  /** 0 = load in the calling thread. */
  numWorkers?: number;
  /** Maximum batches in flight (default 2 per worker). */
  prefetch?: number;
  /** Shuffle every epoch (default: true for training data, false for test data). */
  shuffle?: boolean;
  /** Drop the last incomplete batch (default: true for training data, as the official loader). */
  dropLast?: boolean;
  /** Shuffle seed (default: the training dataset's seed, else 0). */
  seed?: number;
  /** Number of epochs to iterate (default 1; Infinity for an endless stream). */
  epochs?: number;
  /** Resume position. */
  startEpoch?: number;
  startBatch?: number;
  /**
   * Unreadable samples (a corrupt frame, a missing flow) skipped in a row before the iteration
   * fails anyway (default 0: the first one fails it, naming the file). A skipped sample is
   * replaced by the next dataset index's and reported in `Batch.skipped`.
   */
  skipBadSamples?: number;
  /** This process's share of each global batch (data-parallel training); default the whole batch. */
  shard?: Shard;
}

/** Process `rank` of `count` data-parallel processes. */
export interface Shard {
  rank: number;
  count: number;
}

export interface Job {
  id: number;
  epoch: number;
  batch: number;
  indices: number[];
}

interface WorkerMessage {
  type: 'ready' | 'batch' | 'error' | 'fatal';
  id?: number;
  batch?: Batch;
  message?: string;
}

/** Computes one batch in the current thread (what a worker does for a job); see LoaderOptions.skipBadSamples. */
export async function computeBatch(ds: Dataset, job: Job, skipBadSamples = 0): Promise<Batch> {
  const skipped: string[] = [];
  const sample = async (index: number) => {
    for (let k = 0; ; k++) {
      try {
        return await ds.getItem((index + k) % ds.length, job.epoch);
      } catch (e) {
        const msg = e instanceof Error ? e.message : String(e);
        if (skipBadSamples === 0) throw e;
        if (k + 1 >= skipBadSamples) throw new Error(`${k + 1} unreadable samples in a row (the dataset looks broken); the last: ${msg}`);
        skipped.push(msg);
      }
    }
  };
  const b = collate(await Promise.all(job.indices.map(sample)), job.epoch, job.batch);
  if (skipped.length) b.skipped = skipped;
  return b;
}

interface Pending {
  resolve: (b: Batch) => void;
  reject: (e: Error) => void;
  worker: number;
}

class WorkerPool {
  private readonly workers: Worker[] = [];
  private readonly pending = new Map<number, Pending>();
  private readonly load: number[] = [];
  private dead: Error | null = null;
  private closing = false;

  constructor(n: number, spec: DatasetSpec, skipBadSamples: number) {
    const entry = path.join(__dirname, 'loader-worker.ts');
    const tsx = require.resolve('tsx/cjs');
    const code = `const { workerData } = require('worker_threads'); require(workerData.tsx); require(workerData.entry);`;
    for (let i = 0; i < n; i++) {
      const w = new Worker(code, {
        eval: true,
        workerData: { tsx, entry, spec, workerIndex: i, skipBadSamples },
        execArgv: process.execArgv.filter((a) => !a.startsWith('--test')),
      });
      w.unref();
      w.on('message', (m: WorkerMessage) => this.onMessage(i, m));
      w.on('error', (e) => this.failAll(new Error(`data worker ${i} crashed: ${e.message}`)));
      w.on('exit', (code) => {
        if (!this.closing) this.failAll(new Error(`data worker ${i} exited unexpectedly (code ${code})`));
      });
      this.workers.push(w);
      this.load.push(0);
    }
  }

  private onMessage(i: number, m: WorkerMessage): void {
    if (m.type === 'fatal') {
      this.failAll(new Error(m.message ?? `data worker ${i} failed`));
      return;
    }
    if (m.type !== 'batch' && m.type !== 'error') return;
    const p = this.pending.get(m.id!);
    if (!p) return;
    this.pending.delete(m.id!);
    if (--this.load[i] === 0) this.workers[i].unref();
    if (m.type === 'batch') p.resolve(m.batch!);
    else p.reject(new Error(m.message));
  }

  private failAll(e: Error): void {
    if (this.closing) return;
    this.dead = this.dead ?? e;
    for (const p of this.pending.values()) p.reject(this.dead);
    this.pending.clear();
  }

  submit(job: Job): Promise<Batch> {
    if (this.dead) return Promise.reject(this.dead);
    const i = job.id % this.workers.length;
    return new Promise<Batch>((resolve, reject) => {
      this.pending.set(job.id, { resolve, reject, worker: i });
      if (this.load[i]++ === 0) this.workers[i].ref();
      this.workers[i].postMessage({ type: 'job', job });
    });
  }

  async close(): Promise<void> {
    this.closing = true;
    for (const p of this.pending.values()) p.reject(new Error('data loader closed'));
    this.pending.clear();
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

export class DataLoader implements AsyncIterable<Batch> {
  readonly spec: DatasetSpec;
  readonly dataset: Dataset;
  readonly batchSize: number;
  readonly numWorkers: number;
  readonly prefetch: number;
  readonly shuffle: boolean;
  readonly dropLast: boolean;
  readonly seed: number;
  readonly epochs: number;
  readonly startEpoch: number;
  readonly startBatch: number;
  readonly skipBadSamples: number;
  readonly shard: Shard;
  private pool: WorkerPool | null = null;
  private perms = new Map<number, number[]>();

  constructor(dataset: Dataset | DatasetSpec, opts: LoaderOptions = {}) {
    this.spec = specOf(dataset);
    this.dataset = 'kind' in dataset ? createDataset(dataset) : dataset;
    const isTrain = this.spec.kind === 'train';
    this.batchSize = opts.batchSize ?? 1;
    this.numWorkers = opts.numWorkers ?? 0;
    this.prefetch = Math.max(1, opts.prefetch ?? 2 * this.numWorkers);
    this.shuffle = opts.shuffle ?? isTrain;
    this.dropLast = opts.dropLast ?? isTrain;
    this.seed = opts.seed ?? (this.spec.kind === 'train' ? this.spec.options.seed ?? 0 : 0);
    this.epochs = opts.epochs ?? 1;
    this.startEpoch = opts.startEpoch ?? 0;
    this.startBatch = opts.startBatch ?? 0;
    this.skipBadSamples = opts.skipBadSamples ?? 0;
    this.shard = opts.shard ?? { rank: 0, count: 1 };
    if (!Number.isInteger(this.batchSize) || this.batchSize < 1) throw new Error(`DataLoader: batchSize ${this.batchSize} must be a positive integer`);
    const { rank, count } = this.shard;
    if (!Number.isInteger(count) || count < 1 || !Number.isInteger(rank) || rank < 0 || rank >= count) throw new Error(`DataLoader: shard ${rank} of ${count} is not a process of the job`);
    // A last partial global batch would leave some processes without samples.
    if (count > 1 && !this.dropLast) throw new Error('DataLoader: a sharded loader drops the last incomplete batch (dropLast true)');
    if (!Number.isInteger(this.numWorkers) || this.numWorkers < 0) throw new Error(`DataLoader: numWorkers ${this.numWorkers} must be ≥ 0`);
    if (this.batchesPerEpoch === 0) {
      throw new Error(`DataLoader: ${this.dataset.length} samples give no batch of ${this.globalBatchSize} (dropLast ${this.dropLast})`);
    }
  }

  /** Samples per batch over all processes of the shard (batchSize without sharding). */
  get globalBatchSize(): number {
    return this.batchSize * this.shard.count;
  }

  get batchesPerEpoch(): number {
    const n = this.dataset.length;
    const b = this.globalBatchSize;
    return this.dropLast ? Math.floor(n / b) : Math.ceil(n / b);
  }

  /** Batches this loader yields in total (Infinity for endless epochs). */
  get totalBatches(): number {
    return this.epochs * this.batchesPerEpoch - this.startBatch;
  }

  /** Dataset order of an epoch. */
  order(epoch: number): number[] {
    let p = this.perms.get(epoch);
    if (!p) {
      p = this.shuffle
        ? new Rng(this.seed, 'shuffle', epoch).permutation(this.dataset.length)
        : Array.from({ length: this.dataset.length }, (_, i) => i);
      this.perms.clear(); // only the current epoch is needed
      this.perms.set(epoch, p);
    }
    return p;
  }

  /** The k-th job from the start position. */
  job(k: number): Job {
    const nb = this.batchesPerEpoch;
    const g = this.startBatch + k;
    const epoch = this.startEpoch + Math.floor(g / nb);
    const batch = g % nb;
    const ord = this.order(epoch);
    const from = batch * this.globalBatchSize + this.shard.rank * this.batchSize;
    return { id: k, epoch, batch, indices: ord.slice(from, from + this.batchSize) };
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Batch, void, undefined> {
    const total = this.totalBatches;
    if (this.numWorkers === 0) {
      for (let k = 0; k < total; k++) yield await computeBatch(this.dataset, this.job(k), this.skipBadSamples);
      return;
    }
    this.pool = this.pool ?? new WorkerPool(this.numWorkers, this.spec, this.skipBadSamples);
    const pool = this.pool;
    const inflight = new Map<number, Promise<Batch>>();
    let next = 0;
    const pump = () => {
      while (next < total && inflight.size < this.prefetch) {
        const p = pool.submit(this.job(next));
        p.catch(() => undefined); // observed when awaited; avoid unhandled rejections meanwhile
        inflight.set(next, p);
        next++;
      }
    };
    try {
      for (let k = 0; k < total; k++) {
        pump();
        const b = await inflight.get(k)!;
        inflight.delete(k);
        pump();
        yield b;
      }
    } finally {
      await this.close();
    }
  }

  /** Stops the workers (idempotent). */
  async close(): Promise<void> {
    const p = this.pool;
    this.pool = null;
    if (p) await p.close();
  }
}
