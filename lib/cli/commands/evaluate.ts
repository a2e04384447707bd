/**
 * `propainter evaluate`: the official evaluation protocol (scripts/evaluate_propainter.py and, with
 * --model flowcomp, scripts/evaluate_flow_completion.py) with their flags and defaults; outputs
 * and definitions in docs/evaluation.md. A stopped evaluation resumes in the same output folder.
 */
import type { CliCommand } from '../command';
import { UserError } from '../command';
import { initRuntime } from '../../runtime';
import { runEvaluation } from '../../eval/run';
import { EvaluateCliOptions, addEvaluateOptions, requestFromOptions } from '../../eval/args';

const command: CliCommand = {
  name: 'evaluate',
  description: 'evaluate on DAVIS / YouTube-VOS with the official protocol (PSNR, SSIM, VFID, E_warp, LPIPS; EPE for --model flowcomp)',
  configure: (cmd) =>
    addEvaluateOptions(cmd)
      .addHelpText(
        'after',
        `
Outputs in the output folder: <dataset>_metrics.txt (the official file, same line format),
results.json (settings, weights with SHA-256, summary, notes), per_video.csv, strips/<video>.jpg,
per_video/<video>.json (one record per finished video: a restarted evaluation skips them) and,
with --save_results, the completed frames. Definitions: docs/evaluation.md.`,
      )
      .action(async (o: EvaluateCliOptions) => {
        const rt = await initRuntime({ backend: o.backend });
        console.log(`backend ${rt.backend}`);
        let res;
        try {
          res = await runEvaluation(requestFromOptions(o));
        } catch (e) {
          throw new UserError((e as Error).message.split('\n')[0]);
        }
        const s = res.summary;
        const fmt = (v: number | null, d: number, scale = 1) => (v === null ? '–' : (v * scale).toFixed(d));
        console.log(
          res.protocol.model === 'flowcomp'
            ? `EPE ${fmt(s.epe, 4)} over ${s.videos} videos (${s.frames} frames)`
            : `PSNR ${fmt(s.psnr, 2)} SSIM ${fmt(s.ssim, 4)} VFID ${fmt(s.vfid, 3)} E_warp ${fmt(s.ewarp, 3, 1e3)}×10⁻³ LPIPS ${fmt(s.lpips, 4)} over ${s.videos} videos (${s.frames} frames)`,
        );
      }),
};
export default command;
