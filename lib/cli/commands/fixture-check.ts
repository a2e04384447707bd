import type { CliCommand } from '../command';
import { initRuntime, BackendName } from '../../runtime';
import { checkFixtures, expandFixturePaths } from '../../fixtures/check';

const command: CliCommand = {
  name: 'fixture-check',
  description: 'run parity fixtures (safetensors from the official implementation, or inference case folders) against this port',
  configure: (cmd) =>
    cmd
      .argument('<files...>', 'fixture .safetensors files, inference case folders (case.json + input/ + expected/), or directories holding them')
      .option('--weights <path>', 'checkpoint (official .pth or safetensors; a folder of the three official files for pipeline and inference cases) instead of det-init weights')
      .option('--backend <name>', 'tensorflow | wasm | cpu (default: best available)')
      .action(async (files: string[], opts: { weights?: string; backend?: BackendName }) => {
        await initRuntime({ backend: opts.backend });
        const summary = await checkFixtures(expandFixturePaths(files), { weightsPath: opts.weights });
        if (summary.failed > 0 || summary.passed === 0) process.exitCode = 1;
      }),
};
export default command;
