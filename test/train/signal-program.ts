/**
 * The training process test/train/signals.test.ts signals (not a test file itself):
 *   node --import tsx test/train/signal-program.ts DATA_ROOT SAVE_DIR GATE
 * A flow-completion run at 32×32 with the CLI's signal handling whose second step blocks the
 * event loop, as a long step does, until the file GATE exists; it writes GATE.blocked when the
 * block begins.
 */
import * as fs from 'fs';
import { useBackend } from '../../lib/runtime';
import { Run } from '../../lib/train/loop';
import { flowcompConfig } from './helpers';

const [root, saveDir, gate] = process.argv.slice(2);

function blockUntil(file: string): void {
  const cell = new Int32Array(new SharedArrayBuffer(4));
  while (!fs.existsSync(file)) Atomics.wait(cell, 0, 0, 20);
}

(async () => {
  await useBackend('wasm');
  const run = await Run.create(flowcompConfig(root, saveDir, 32), { handleSignals: true, console: false });
  const trainStep = run.system.trainStep.bind(run.system);
  run.system.trainStep = (batches, ctx) => {
    if (ctx.iteration === 1) {
      fs.writeFileSync(`${gate}.blocked`, '');
      blockUntil(gate);
    }
    return trainStep(batches, ctx);
  };
  try {
    console.log(`stopped: ${await run.train()} at ${run.iteration}`);
  } finally {
    await run.dispose();
  }
})();
