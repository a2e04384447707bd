/**
 * End-to-end inference wiring against the official implementation: RAFT_bi (6 iterations) →
 * flow completion → image propagation → generator (eval) on the shared pipeline fixture
 * (128×128, 3 local + 1 reference frame, det-init v1 weights), through the `pipeline` component.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend, BackendName } from '../../lib/runtime';
import { FIXTURES, hasShared } from '../helpers';
import { checkFixtures } from '../../lib/fixtures/check';

const BACKENDS = (process.env.PROPAINTER_FIXTURE_BACKENDS ?? 'wasm').split(',').filter(Boolean) as BackendName[];

for (const backend of BACKENDS) {
  test(`pipeline_synth_128x128_t4_l3 passes on ${backend}`, { skip: !hasShared }, async () => {
    await useBackend(backend);
    const lines: string[] = [];
    const before = tf.memory().numTensors;
    const summary = await checkFixtures([path.join(FIXTURES, 'pipeline_synth_128x128_t4_l3.safetensors')], { log: (l) => lines.push(l) });
    const report = lines.join('\n');
    assert.equal(summary.failed, 0, report);
    assert.equal(summary.passed, 7, report);
    assert.ok(!/tensors left allocated/.test(report), report);
    assert.equal(tf.memory().numTensors, before);
  });
}
