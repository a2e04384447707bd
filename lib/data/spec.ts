/** Serialisable dataset descriptions, so worker threads can rebuild the same dataset. */
import { TestDataset, TestDatasetOptions } from './test-dataset';
import { TrainDataset, TrainDatasetOptions } from './train-dataset';

export type DatasetSpec =
  | { kind: 'train'; options: TrainDatasetOptions }
  | { kind: 'test'; options: TestDatasetOptions };

export type Dataset = TrainDataset | TestDataset;

export function createDataset(spec: DatasetSpec): Dataset {
  if (spec.kind === 'train') return new TrainDataset(spec.options);
  if (spec.kind === 'test') return new TestDataset(spec.options);
  throw new Error(`unknown dataset kind '${(spec as { kind: string }).kind}'`);
}

export function specOf(ds: Dataset | DatasetSpec): DatasetSpec {
  if (ds instanceof TrainDataset) return { kind: 'train', options: { ...ds.options } };
  if (ds instanceof TestDataset) return { kind: 'test', options: { ...ds.options } };
  return ds;
}
