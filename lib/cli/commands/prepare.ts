/**
 * `propainter prepare <resize|index|masks|synth|validate>`: build and check dataset roots in the
 * layout of spec §11.2. Bad input → non-zero exit and a message naming the file; outputs are
 * written through staging folders and atomic files, so nothing already written is damaged.
 */
import * as fs from 'fs';
import * as path from 'path';
import type { Command } from 'commander';
import * as cliProgress from 'cli-progress';
import type { CliCommand } from '../command';
import { UserError, choiceOption as oneOf, intOption } from '../command';
import { resizeDataset, resizeSources, writeIndexFiles, writeMaskSet, writeSynthDataset } from '../../data/prepare';
import { readIndex } from '../../data/layout';
import { formatProblem, validateDataset } from '../../data/validate';

type Bar = { start(total: number, v: number): void; increment(n?: number): void; update(v: number): void; setTotal(n: number): void; getTotal(): number; stop(): void };

function progressBar(label: string): Bar {
  // Only on an interactive terminal; logs stay clean in CI.
  if (!process.stderr.isTTY) {
    return { start() {}, increment() {}, update() {}, setTotal() {}, getTotal: () => 0, stop() {} };
  }
  return new cliProgress.SingleBar(
    { format: `${label} [{bar}] {value}/{total} {eta_formatted}`, stream: process.stderr, hideCursor: true },
    cliProgress.Presets.shades_classic,
  ) as unknown as Bar;
}


/** Runs an action; library errors (which name their file) become plain CLI errors. */
function run<A extends unknown[]>(fn: (...a: A) => Promise<void>): (...a: A) => Promise<void> {
  return async (...a: A) => {
    try {
      await fn(...a);
    } catch (e) {
      if (e instanceof UserError) throw e;
      throw new UserError((e as Error).message);
    }
  };
}

function configure(cmd: Command): void {
  cmd.addHelpText(
    'after',
    `
Dataset root layout:
  <root>/JPEGImages_432_240/<video>/00000.jpg …   (or JPEGImages/ for unresized frames)
  <root>/test_masks/<video>/00000.png …           (non-zero = hole)
  <root>/flows/<video>/00000_00001_f.flo, 00001_00000_b.flo …
  <root>/train.json, test.json                    ({ "video": frame count })`,
  );

  cmd
    .command('resize')
    .description('resize frame folders and video files (.mp4 …) to W×H JPEGs: <output_dir>/<video>/00000.jpg …')
    .requiredOption('--input_dir <dir>', 'folder of frame folders and/or video files (or one video file)')
    .requiredOption('--output_dir <dir>', 'output frames folder, e.g. <root>/JPEGImages_432_240')
    .option('--width <n>', 'output width', intOption('width'), 432)
    .option('--height <n>', 'output height', intOption('height'), 240)
    .option('--filter <name>', 'cv2-linear (OpenCV INTER_LINEAR, as the official loader) | lanczos3 | linear', oneOf('filter', ['cv2-linear', 'lanczos3', 'linear'] as const), 'cv2-linear')
    .option('--format <ext>', 'jpg | png', oneOf('format', ['jpg', 'png'] as const), 'jpg')
    .option('--quality <q>', 'JPEG quality', intOption('quality'), 95)
    .option('--concurrency <n>', 'frames processed at once', intOption('concurrency'))
    .addHelpText('after', '\nFinished videos are skipped; an interrupted run resumes from .<video>.partial/ staging folders.')
    .action(
      run(async (o: { input_dir: string; output_dir: string; width: number; height: number; filter: 'cv2-linear' | 'lanczos3' | 'linear'; format: 'jpg' | 'png'; quality: number; concurrency?: number }) => {
        const sources = resizeSources(o.input_dir);
        if (sources.length === 0) throw new UserError(`${path.resolve(o.input_dir)}: no frame folders or video files`);
        const bar = progressBar('resize');
        bar.start(sources.reduce((a, s) => a + (s.frames ?? 0), 0), 0);
        const res = await resizeDataset({
          inputDir: o.input_dir,
          outputDir: o.output_dir,
          width: o.width,
          height: o.height,
          filter: o.filter,
          format: o.format,
          quality: o.quality,
          concurrency: o.concurrency,
          onProgress: (done, total) => {
            if (total !== bar.getTotal()) bar.setTotal(total);
            bar.update(done);
          },
          onVideo: (name, status, detail) => {
            // Shown as it happens beside the progress bar; the final error lists every failure.
            if (status === 'failed' && process.stderr.isTTY) process.stderr.write(`\n${detail}\n`);
            void name;
          },
        });
        bar.stop();
        console.log(`resized ${res.done.length} video(s), ${res.frames} frames to ${o.width}x${o.height} in ${path.resolve(o.output_dir)}; skipped ${res.skipped.length} finished video(s)`);
        if (res.failures.length) {
          throw new UserError(`${res.failures.length} video(s) failed (finished videos are kept; fix and re-run):\n` + res.failures.map((f) => `  ${f.message}`).join('\n'));
        }
      }),
    );

  cmd
    .command('index')
    .description('write the split file(s) { video: frame count } from the frame folders')
    .requiredOption('--root <dir>', 'dataset root')
    .option('--split <name>', 'train | test (default: both; test lists videos with test_masks)', oneOf('split', ['train', 'test'] as const))
    .option('--out <file>', 'output file instead of <root>/<split>.json (needs --split)')
    .option('--width <n>', 'frames folder size (JPEGImages_<W>_<H>)', intOption('width'), 432)
    .option('--height <n>', 'frames folder size', intOption('height'), 240)
    .action(
      run(async (o: { root: string; split?: 'train' | 'test'; out?: string; width: number; height: number }) => {
        for (const w of writeIndexFiles(o)) console.log(`wrote ${w.file}: ${w.videos} video(s), ${w.frames} frames`);
      }),
    );

  cmd
    .command('masks')
    .description('random-shape masks (official generator, §11.4) as PNG folders in test_masks layout')
    .requiredOption('--out <dir>', 'output folder, e.g. <root>/test_masks')
    .option('--videos <k>', 'number of videos (named video_0000 …)', intOption('videos'))
    .option('--frames <n>', 'frames per video', intOption('frames'))
    .option('--index <file>', 'split file giving video names and frame counts (instead of --videos/--frames)')
    .option('--width <n>', 'mask width', intOption('width'), 432)
    .option('--height <n>', 'mask height', intOption('height'), 240)
    .option('--seed <s>', 'random seed', intOption('seed', 0), 0)
    .action(
      run(async (o: { out: string; videos?: number; frames?: number; index?: string; width: number; height: number; seed: number }) => {
        let videos: { name: string; frames: number }[];
        const source = o.index ? path.resolve(o.index) : undefined;
        if (source) {
          videos = Object.entries(readIndex(source)).map(([name, frames]) => ({ name, frames }));
        } else {
          if (!o.videos || !o.frames) throw new UserError('give --videos and --frames, or --index');
          videos = Array.from({ length: o.videos }, (_, i) => ({ name: `video_${String(i).padStart(4, '0')}`, frames: o.frames! }));
        }
        const bar = progressBar('masks');
        bar.start(videos.length, 0);
        const res = await writeMaskSet({ out: o.out, videos, source, width: o.width, height: o.height, seed: o.seed, onVideo: () => bar.increment() });
        bar.stop();
        console.log(`wrote masks for ${res.done.length} video(s) in ${path.resolve(o.out)}; skipped ${res.skipped.length} existing`);
      }),
    );

  cmd
    .command('synth')
    .description('synthetic videos with exact forward/backward ground-truth flow (.flo), masks and split files')
    .requiredOption('--out <dir>', 'dataset root to create')
    .requiredOption('--videos <n>', 'number of videos', intOption('videos'))
    .requiredOption('--frames <t>', 'frames per video', intOption('frames', 2))
    .option('--width <n>', 'frame width', intOption('width'), 432)
    .option('--height <n>', 'frame height', intOption('height'), 240)
    .option('--seed <s>', 'random seed', intOption('seed', 0), 0)
    .option('--format <ext>', 'jpg | png (png keeps pixels exact)', oneOf('format', ['jpg', 'png'] as const), 'jpg')
    .option('--flo <enc>', 'float16 (official) | float32 (Middlebury)', oneOf('flo', ['float16', 'float32'] as const), 'float16')
    .option('--objects <n>', 'moving objects per video (default random 1–3)', intOption('objects'))
    .option('--max_speed <px>', 'largest per-frame displacement of objects', intOption('max_speed'), 4)
    .option('--source <path>', 'frames folder or video whose real frames texture the moving layers (default: procedural textures)')
    .action(
      run(async (o: { out: string; videos: number; frames: number; width: number; height: number; seed: number; format: 'jpg' | 'png'; flo: 'float16' | 'float32'; objects?: number; max_speed: number; source?: string }) => {
        const bar = progressBar('synth');
        bar.start(o.videos, 0);
        const res = await writeSynthDataset({
          out: o.out, videos: o.videos, frames: o.frames, width: o.width, height: o.height, seed: o.seed,
          format: o.format, floEncoding: o.flo, objects: o.objects, maxSpeed: o.max_speed, source: o.source, onVideo: () => bar.increment(),
        });
        bar.stop();
        console.log(`wrote ${res.done.length} synthetic video(s) to ${res.root}; skipped ${res.skipped.length} existing`);
      }),
    );

  cmd
    .command('validate')
    .description('check a dataset root: folders, frame counts vs split files, images, masks, flows')
    .requiredOption('--root <dir>', 'dataset root')
    .option('--width <n>', 'frames folder size (JPEGImages_<W>_<H>) and mask size', intOption('width'), 432)
    .option('--height <n>', 'frames folder size and mask size', intOption('height'), 240)
    .option('--quick', 'read image headers only (no full decode)')
    .option('--json', 'print the report as JSON')
    .action(
      run(async (o: { root: string; width: number; height: number; quick?: boolean; json?: boolean }) => {
        if (!fs.existsSync(o.root)) throw new UserError(`${path.resolve(o.root)}: dataset root not found`);
        const bar = progressBar('validate');
        let started = false;
        const r = await validateDataset(o.root, {
          width: o.width,
          height: o.height,
          decode: !o.quick,
          onProgress: (done, total) => {
            if (!started) {
              bar.start(total, 0);
              started = true;
            }
            bar.increment();
          },
        });
        bar.stop();
        if (o.json) console.log(JSON.stringify(r, null, 2));
        else console.log(`${r.root}: ${r.videos} video(s), ${r.frames} frames, ${r.masks} masks, ${r.flows} flow files checked`);
        if (r.problems.length) {
          throw new UserError(`${r.problems.length} problem(s):\n` + r.problems.map((p) => `  ${formatProblem(p)}`).join('\n'));
        }
        if (!o.json) console.log('ok');
      }),
    );
}

const command: CliCommand = {
  name: 'prepare',
  description: 'prepare datasets: resize, index, masks, synth, validate (run `prepare <sub> --help`)',
  configure,
};
export default command;
