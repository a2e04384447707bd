import * as fs from 'fs';
import type { Command } from 'commander';
import type { CliCommand } from '../command';
import { UserError } from '../command';
import { initRuntime, BackendName } from '../../runtime';
import { checkFixtures, expandFixturePaths } from '../../fixtures/check';
import { processCount } from '../../eval/args';

const command: CliCommand = {
  name: 'fixture-check',
  description: 'run parity fixtures (safetensors from the official implementation, or inference / evaluation case folders) against this port',
  configure: (cmd) =>
    cmd
      .argument('<files...>', 'fixture .safetensors files, inference or evaluation case folders (case.json + inputs + expected/), or directories holding them')
      .option('--weights <path>', 'checkpoint (official .pth or safetensors; a folder of the official files for pipeline, inference and evaluation cases) instead of det-init weights')
      .option('--nproc <n|auto>', 'worker processes for evaluation cases (default 1)', processCount)
      .option('--backend <name>', 'tensorflow | wasm | cpu (default: best available)')
      .action(async (files: string[], opts: { weights?: string; nproc?: number | 'auto'; backend?: BackendName }, self: Command) => {
        if (opts.weights !== undefined && !fs.existsSync(opts.weights)) throw new UserError(`--weights ${opts.weights}: no such file or folder`);
        const fixtures = expandFixturePaths(files);
        await initRuntime({ backend: opts.backend });
        const s = await checkFixtures(fixtures, { weightsPath: opts.weights, nproc: opts.nproc, debug: self.optsWithGlobals().debug === true });
        // Fixtures of weightless components (grid_sample, losses, …) ignore --weights: say so.
        if (opts.weights !== undefined && !s.results.some((r) => r.weightsUsed)) {
          const components = [...new Set(s.results.map((r) => r.component))].join(', ');
          throw new UserError(`--weights ${opts.weights}: not used, no fixture given loads weights (components: ${components})`);
        }
        const errors = s.results.filter((r) => r.error !== undefined);
        if (errors.length) {
          const more = errors.length > 1 ? ` (and ${errors.length - 1} more fixture(s) failed to run)` : '';
          throw new UserError(`${errors[0].file}: ${errors[0].error}${more}`);
        }
        if (s.failed > 0) throw new UserError(`${s.failed} comparison(s) outside tolerance (listed above)`);
        if (s.passed === 0) throw new UserError('no comparisons ran');
      }),
};
export default command;
