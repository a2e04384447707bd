/** `propainter evaluate`: the dataset folders and the weight files, checked before any video is evaluated. */
import { encodePng } from '../../../lib/io/image';
import { HostileRow, lit, Sandbox } from '../harness';
import { bombPth, truncatedPth } from '../files';

/** frames/<video>/0000{0,1,2}.png and masks/<video>/… (16×16) for `videos`; the first video has `masks` masks. */
async function dataset(s: Sandbox, masks = 3, videos = ['v']): Promise<void> {
  const png = await encodePng({ width: 16, height: 16, channels: 3, data: new Uint8Array(16 * 16 * 3) });
  videos.forEach((v, k) => {
    for (let i = 0; i < 3; i++) s.write(`frames/${v}/0000${i}.png`, png);
    for (let i = 0; i < (k === 0 ? masks : 3); i++) s.write(`masks/${v}/0000${i}.png`, png);
  });
}

const BASE = ['--dataset', 'davis', '--video_root', 'frames', '--mask_root', 'masks', '--width', '128', '--height', '128', '--nproc', '1', '-o', 'out', '--backend', 'cpu'];

function evaluate(name: string, setup: (s: Sandbox) => Promise<string[]>, error: (s: Sandbox) => RegExp, output?: string): HostileRow {
  return { command: 'evaluate', name, args: async (s) => ['evaluate', ...BASE, ...(await setup(s))], error, output };
}

export const rows: HostileRow[] = [
  evaluate(
    'a missing mask folder (--videos names a video without one)',
    async (s) => {
      await dataset(s);
      return ['--det_init', '--videos', 'v,ghost'];
    },
    (s) => new RegExp(`^${lit(s.at('masks/ghost'))}: mask folder not found \\(video 'ghost' of --videos\\)$`),
  ),
  evaluate(
    'a video whose frame and mask counts differ',
    async (s) => {
      await dataset(s, 2);
      return ['--det_init'];
    },
    (s) => new RegExp(`^${lit(s.at('masks/v'))}: 2 masks for the 3 frames of ${lit(s.at('frames/v'))}$`),
  ),
  evaluate(
    'a video name that leaves the mask root',
    async (s) => {
      await dataset(s);
      return ['--det_init', '--videos', '../frames'];
    },
    (s) => new RegExp(`^${lit(s.at('masks'))}: video "\\.\\./frames" is not a plain name inside this folder$`),
  ),
  evaluate(
    'missing weights (an empty weights folder)',
    async (s) => {
      await dataset(s);
      s.mkdir('weights');
      return ['--weights', 'weights'];
    },
    (s) => new RegExp(`^missing weight file ${lit(s.at('weights/recurrent_flow_completion.pth'))} \\(the recurrent flow completion weights, recurrent_flow_completion\\.pth from the official ProPainter release, or recurrent_flow_completion\\.safetensors beside it\\)`),
  ),
  evaluate(
    '--propainter_model_path naming a file that does not exist',
    async (s) => {
      await dataset(s);
      return ['--det_init', '--propainter_model_path', 'gen.pth'];
    },
    (s) => new RegExp(`^missing weight file ${lit(s.at('gen.pth'))} \\(the ProPainter generator weights, ProPainter\\.pth from the official ProPainter release\\)`),
  ),
  evaluate(
    '--propainter_model_path a ZIP bomb (refused before any video)',
    async (s) => {
      await dataset(s);
      return ['--det_init', '--propainter_model_path', bombPth(s)];
    },
    (s) => new RegExp(`^${lit(s.at('bomb.pth'))}: entry "archive/data/0" inflates \\d+ compressed bytes to \\d+, beyond`),
  ),
  evaluate(
    '--i3d_model_path a truncated download',
    async (s) => {
      // Two videos: with one, VFID is skipped and the I3D file never read.
      await dataset(s, 3, ['v', 'w']);
      return ['--det_init', '--i3d_model_path', truncatedPth(s)];
    },
    (s) => new RegExp(`^${lit(s.at('cut.pth'))}: truncated or corrupt ZIP archive`),
  ),
];
