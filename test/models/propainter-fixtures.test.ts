/**
 * Generator parity with the official implementation through the fixture components:
 * `inpaint` (img_propagation + eval/train forward, with intermediates) and `gradcheck_inpaint`
 * (parameter gradients of the trainer's L1 loss), det-init v1 weights.
 * Both fixtures on wasm and `inpaint` on cpu; the cpu gradient case (~5 min on the CI machine)
 * runs with PROPAINTER_SLOW=1. PROPAINTER_FIXTURE_BACKENDS=cpu,wasm narrows or widens the list.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend, BackendName } from '../../lib/runtime';
import { FIXTURES, hasShared } from '../helpers';
import { checkFixtures } from '../../lib/fixtures/check';

const BACKENDS = (process.env.PROPAINTER_FIXTURE_BACKENDS ?? 'cpu,wasm').split(',').filter(Boolean) as BackendName[];
const FILES = ['inpaint_synth_64x64_t4_l3.safetensors', 'gradcheck_inpaint_synth_64x64_t4_l3.safetensors'];

const SLOW = process.env.PROPAINTER_SLOW === '1';

for (const backend of BACKENDS) {
  for (const file of FILES) {
    const skip = !hasShared ? 'shared fixtures absent' : backend === 'cpu' && file.startsWith('gradcheck') && !SLOW ? 'slow on cpu: PROPAINTER_SLOW=1' : false;
    test(`${file} passes on ${backend}`, { skip }, async () => {
      await useBackend(backend);
      const lines: string[] = [];
      const before = tf.memory().numTensors;
      const summary = await checkFixtures([path.join(FIXTURES, file)], { log: (l) => lines.push(l) });
      const report = lines.join('\n');
      assert.equal(summary.failed, 0, report);
      assert.ok(summary.passed > 0, report);
      assert.ok(!/tensors left allocated/.test(report), report);
      assert.equal(tf.memory().numTensors, before);
      // Bound the worst relative error well inside the 1e-3 (1e-2 for gradients) tolerance.
      for (const c of summary.results[0].comparisons) {
        if (c.share === undefined) assert.ok(c.relErr < 1e-4, `${c.name}: rel ${c.relErr}`);
      }
    });
  }
}
