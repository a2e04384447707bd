/** SampleImages: PNGs and index written by the time the hook resolves; a restart drops later entries. */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { SampleImages, readSampleIndex } from '../../lib/train/callbacks/samples';
import type { Run, StepRecord } from '../../lib/train/loop';

const img = (v: number) => ({ width: 4, height: 2, data: new Uint8Array(24).fill(v) });
const fakeRun = (dir: string, iteration: number) => ({ config: { save_dir: dir }, iteration }) as unknown as Run;
const rec = (iteration: number) => ({ iteration }) as StepRecord;

test('sample images are on disk when the hook resolves; a run restarted at iteration k forgets later samples', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'samples-'));
  const cb = new SampleImages();
  cb.onTrainStart(fakeRun(dir, 0));
  for (const it of [2, 4, 6]) await cb.onStepEnd(fakeRun(dir, it), rec(it), { 'img/a:b': img(it) });
  await cb.onValidationEnd(fakeRun(dir, 6), { iteration: 6, metrics: {}, perVideo: {} }, { 'val/v': img(9) });
  const all = readSampleIndex(dir);
  assert.deepEqual(all.map((e) => [e.iteration, e.phase, e.file]), [
    [2, 'train', '000002_img-a-b.png'], [4, 'train', '000004_img-a-b.png'], [6, 'train', '000006_img-a-b.png'], [6, 'val', '000006_val-v.png'],
  ]);
  const png = fs.readFileSync(path.join(dir, 'samples', '000004_img-a-b.png'));
  assert.equal(png.readUInt32BE(16), 4);
  // Restarted (e.g. resumed from the checkpoint at 4): entries after 4 are dropped from the index.
  const again = new SampleImages();
  again.onTrainStart(fakeRun(dir, 4));
  assert.deepEqual(readSampleIndex(dir).map((e) => e.iteration), [2, 4]);
  await again.onStepEnd(fakeRun(dir, 6), rec(6), { 'img/a:b': img(1) });
  assert.deepEqual(readSampleIndex(dir).map((e) => e.iteration), [2, 4, 6]);
});
