/**
 * `propainter pipeline` (what `npm start` runs): validate the bundled clip and build the training
 * set, train flow completion, train ProPainter, write the HTML report — minutes on a CPU.
 */
import type { CliCommand } from '../command';
import { UserError, collect } from '../command';
import { BackendName, initRuntime } from '../../runtime';
import { runSamplePipeline } from '../../pipeline/sample-pipeline';
import { ConfigError } from '../../train/schema';

const command: CliCommand = {
  name: 'pipeline',
  description: 'the workbook pipeline on the bundled clip: data → flow-completion training → ProPainter training → HTML report',
  configure: (cmd) =>
    cmd
      .option('--sample <dir>', 'bundled sample to validate', 'data/davis-sample')
      .option('--flowcomp-config <file>', 'flow-completion config', 'configs/quick_flowcomp.json')
      .option('--propainter-config <file>', 'ProPainter config', 'configs/quick_propainter.json')
      .option('--flowcomp-set <key.path=value>', 'override in the flow-completion config (repeatable)', collect, [] as string[])
      .option('--propainter-set <key.path=value>', 'override in the ProPainter config (repeatable)', collect, [] as string[])
      .option('-o, --report <file>', 'HTML report', 'reports/sample-pipeline.html')
      .option('--fresh', 'delete both run folders first and train from scratch')
      .option('--backend <name>', 'tensorflow | wasm | cpu (default: best available)')
      .option('--quiet', 'no progress line')
      .addHelpText(
        'after',
        `
Run folders are the configs' save_dir (experiments/quick_flowcomp, experiments/quick_propainter):
a finished run is skipped and an interrupted one (Ctrl-C writes a checkpoint) resumes on the next
invocation, so running it again only rewrites the report.`,
      )
      .action(async (o: {
        sample: string; flowcompConfig: string; propainterConfig: string; flowcompSet: string[]; propainterSet: string[];
        report: string; fresh?: boolean; backend?: BackendName; quiet?: boolean;
      }) => {
        const rt = await initRuntime({ backend: o.backend });
        console.log(`backend: ${rt.backend}${rt.wasmKernelPack ? ' (training kernel pack registered)' : ''}`);
        let res;
        try {
          res = await runSamplePipeline({
            sample: o.sample, flowcompConfig: o.flowcompConfig, propainterConfig: o.propainterConfig,
            flowcompSets: o.flowcompSet, propainterSets: o.propainterSet, report: o.report, fresh: o.fresh,
            console: !o.quiet, handleSignals: true,
          });
        } catch (e) {
          if (e instanceof ConfigError) throw new UserError(e.message);
          throw e;
        }
        if (res.status === 'interrupted') throw new UserError('pipeline interrupted; run it again to continue', 130);
        const total = Object.values(res.seconds).reduce((a, b) => a + b, 0);
        console.log(`\ndone in ${Math.round(total)} s — open ${res.report}`);
      }),
};
export default command;
