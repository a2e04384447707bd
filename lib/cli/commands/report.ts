/**
 * `propainter report RUN_DIR... [-o FILE] [--title T]`: a self-contained HTML report (loss
 * curves, validation metrics, sample images) of training runs, read from their folders.
 */
import type { CliCommand } from '../command';
import { UserError } from '../command';
import { readRunLog, writeRunReport } from '../../report';

const command: CliCommand = {
  name: 'report',
  description: 'self-contained HTML report of training runs (loss curves, validation metrics, sample images)',
  configure: (cmd) =>
    cmd
      .argument('<runs...>', 'run folders (save_dir of propainter train, e.g. experiments/quick_flowcomp)')
      .option('-o, --out <file>', 'output HTML file', 'reports/training-report.html')
      .option('--title <text>', 'report title')
      .action((runs: string[], o: { out: string; title?: string }) => {
        let logs;
        try {
          logs = runs.map((r) => readRunLog(r));
        } catch (e) {
          throw new UserError((e as Error).message);
        }
        const bytes = writeRunReport(o.out, logs, { title: o.title, generatedBy: `propainter report ${runs.join(' ')}` });
        console.log(`${o.out}: ${logs.length} run(s), ${(bytes / 1e6).toFixed(1)} MB`);
      }),
};
export default command;
