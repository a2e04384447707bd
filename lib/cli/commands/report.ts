/**
 * `propainter report DIR... [-o FILE] [--title T]`: a self-contained HTML report of training runs
 * (loss curves, validation metrics, sample images) and evaluation folders (metrics, per-video
 * charts, best / worst strips, per-video differences between folders), read from their folders.
 */
import type { CliCommand } from '../command';
import { UserError } from '../command';
import { isEvaluationDir, readEvalRun, readRunLog, writeRunReport } from '../../report';

const command: CliCommand = {
  name: 'report',
  description: 'self-contained HTML report of training runs and evaluations (curves, metrics, per-video comparisons, images)',
  configure: (cmd) =>
    cmd
      .argument('<dirs...>', 'training run folders (save_dir of propainter train) and/or evaluation folders (-o of propainter evaluate)')
      .option('-o, --out <file>', 'output HTML file', 'reports/report.html')
      .option('--title <text>', 'report title')
      .action((dirs: string[], o: { out: string; title?: string }) => {
        let runs;
        let evaluations;
        try {
          runs = dirs.filter((d) => !isEvaluationDir(d)).map((d) => readRunLog(d));
          evaluations = dirs.filter((d) => isEvaluationDir(d)).map((d) => readEvalRun(d));
        } catch (e) {
          throw new UserError((e as Error).message);
        }
        const bytes = writeRunReport(o.out, runs, { title: o.title, evaluations, generatedBy: `propainter report ${dirs.join(' ')}` });
        console.log(`${o.out}: ${runs.length} training run(s), ${evaluations.length} evaluation(s), ${(bytes / 1e6).toFixed(1)} MB`);
      }),
};
export default command;
