/** Worker-thread body of the DataLoader: rebuilds the dataset from its spec and computes batches. */
import { parentPort, workerData } from 'worker_threads';
import { computeBatch, Job } from './loader';
import { batchBuffers } from './sample';
import { createDataset, Dataset, DatasetSpec } from './spec';

const port = parentPort!;
const data = workerData as { spec: DatasetSpec; workerIndex: number; skipBadSamples: number };
let ds: Dataset | null = null;
try {
  ds = createDataset(data.spec);
} catch (e) {
  port.postMessage({ type: 'fatal', message: (e as Error).message });
}

port.on('message', (m: { type: string; job: Job }) => {
  if (m.type !== 'job' || !ds) return;
  const { job } = m;
  computeBatch(ds, job, data.skipBadSamples).then(
    (batch) => port.postMessage({ type: 'batch', id: job.id, batch }, batchBuffers(batch)),
    (e: unknown) => port.postMessage({ type: 'error', id: job.id, message: e instanceof Error ? e.message : String(e) }),
  );
});
