/**
 * `propainter inpaint`: object removal / video completion / outpainting of a user's video with the
 * official inference script's flags and defaults (lib/inference). Writes OUT/<name>/
 * inpaint_out.mp4, masked_in.mp4, compare.mp4 (masked input | result), frames/NNNN.png with
 * --save_frames, and summary.json; every file appears only once complete.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import type { CliCommand } from '../command';
import { UserError } from '../command';
import { initRuntime, type BackendName } from '../../runtime';
import { addInpaintOptions, jobFromOptions, type InpaintCliOptions } from '../../inference/args';
import { openInputs, runInpaintJob, type InpaintJob, type JobResult, type OpenedInputs } from '../../inference/job';
import { loadInferenceModels, disposeModels } from '../../inference/models';
import { describeWeights } from './weights';
import { estimateInpaintHeap, formatHeapRefusal } from '../../inference/memory';
import { inferenceSizes, outpaintCanvas, type Size } from '../../inference/frames';
import { InputError, STAGES, type StageName } from '../../inference/pipeline';
import { compareFrame, type OutputImages } from '../../inference/output';
import { openVideoWriter, type VideoWriter } from '../../io/video';
import { encodePng } from '../../io/image';
import { writeFileAtomicAsync, writeJsonAtomic } from '../../io/atomic';
import { RAFT_MIN_SIZE } from '../../models/raft';
import { progress } from '../../viz/progress';
import { WASM_HEAP_BUDGET, fmtBytes, wasmHeapBytes } from '../../models/analyze';

const user = <T>(fn: () => T): T => {
  try {
    return fn();
  } catch (e) {
    throw new UserError((e as Error).message);
  }
};

/** Refuses sizes the networks cannot run, before any work. */
function checkSizes(job: InpaintJob, inputSize: Size): { processSize: Size; netSize: Size; outSize: Size } {
  const { outSize, processSize } = inferenceSizes(inputSize, job);
  const netSize = job.mode === 'video_outpainting' ? user(() => outpaintCanvas(processSize, job.scaleH, job.scaleW)) : processSize;
  if (netSize.width < RAFT_MIN_SIZE || netSize.height < RAFT_MIN_SIZE) {
    throw new UserError(
      `processing size ${netSize.width}x${netSize.height} (from ${inputSize.width}x${inputSize.height}${job.resizeRatio !== 1 ? ` × --resize_ratio ${job.resizeRatio}` : ''}` +
        `${job.width !== -1 ? `, --width ${job.width} --height ${job.height}` : ''}) is below RAFT's minimum of ${RAFT_MIN_SIZE} px per side; use a larger --resize_ratio or --width/--height`,
    );
  }
  return { processSize, netSize, outSize };
}

interface Outputs {
  frame(index: number, images: OutputImages): Promise<void>;
  finish(): Promise<void>;
  abort(): void;
}

function openOutputs(dir: string, outSize: Size, fps: number, saveFrames: boolean): Outputs {
  const writers: Array<[string, VideoWriter]> = [];
  const open = (name: string, width: number) => {
    const w = openVideoWriter(path.join(dir, name), { width, height: outSize.height, fps });
    writers.push([name, w]);
    return w;
  };
  const inpaintOut = open('inpaint_out.mp4', outSize.width);
  const maskedIn = open('masked_in.mp4', outSize.width);
  const compare = open('compare.mp4', outSize.width * 2);
  // Frames go to a staging folder renamed into place at the end.
  const staging = path.join(dir, `.frames.partial-${process.pid}`);
  const pending: Promise<void>[] = [];
  return {
    async frame(index, images) {
      await inpaintOut.write(images.inpaintOut);
      await maskedIn.write(images.maskedIn);
      await compare.write(compareFrame(images));
      if (saveFrames) {
        pending.push(encodePng(images.frame).then((png) => writeFileAtomicAsync(path.join(staging, `${String(index).padStart(4, '0')}.png`), png)));
        if (pending.length >= 8) await Promise.all(pending.splice(0));
      }
    },
    async finish() {
      await Promise.all(pending.splice(0));
      for (const [, w] of writers) await w.close();
      if (saveFrames) {
        const target = path.join(dir, 'frames');
        fs.rmSync(target, { recursive: true, force: true });
        fs.renameSync(staging, target);
      }
    },
    abort() {
      for (const [, w] of writers) w.abort();
      fs.rmSync(staging, { recursive: true, force: true });
    },
  };
}

function checkWritable(dir: string): void {
  try {
    fs.mkdirSync(dir, { recursive: true });
    fs.accessSync(dir, fs.constants.W_OK);
    const probe = path.join(dir, `.write-test-${process.pid}`);
    fs.writeFileSync(probe, '');
    fs.rmSync(probe);
  } catch (e) {
    throw new UserError(`output folder not writable: ${dir} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}

export interface InpaintSummary {
  video: string;
  name: string;
  frames: number;
  fps: number;
  input_size: [number, number];
  process_size: [number, number];
  canvas_size?: [number, number];
  out_size: [number, number];
  backend: string;
  precision: 'float32';
  weights: string;
  seconds: Record<StageName | 'total', number>;
  seconds_per_frame: number;
  wasm_heap_bytes: number | null;
  outputs: string[];
}

function summarize(job: InpaintJob, r: JobResult, weights: string, totalSeconds: number, outputs: string[]): InpaintSummary {
  const wh = (s: Size): [number, number] => [s.width, s.height];
  const seconds = { ...r.seconds, total: totalSeconds } as Record<StageName | 'total', number>;
  for (const k of Object.keys(seconds) as Array<keyof typeof seconds>) seconds[k] = Math.round(seconds[k] * 1000) / 1000;
  return {
    video: job.video,
    name: r.name,
    frames: r.frames,
    fps: r.fps,
    input_size: wh(r.inputSize),
    process_size: wh(r.processSize),
    canvas_size: r.canvas ? wh(r.canvas) : undefined,
    out_size: wh(r.outSize),
    backend: tf.getBackend(),
    precision: 'float32',
    weights,
    seconds,
    seconds_per_frame: Math.round((totalSeconds / r.frames) * 1000) / 1000,
    wasm_heap_bytes: wasmHeapBytes(),
    outputs,
  };
}

export function formatSummary(s: InpaintSummary): string {
  const size = (x: [number, number]) => `${x[0]}x${x[1]}`;
  const stages = STAGES.map((k) => `${k} ${s.seconds[k].toFixed(1)}s (${(s.seconds[k] / s.frames).toFixed(2)}/frame)`).join(', ');
  return [
    `${s.name}: ${s.frames} frames, input ${size(s.input_size)} → processed at ${size(s.canvas_size ?? s.process_size)} → output ${size(s.out_size)}, ${s.fps} fps`,
    `time: ${s.seconds.total.toFixed(1)} s total, ${s.seconds_per_frame.toFixed(2)} s/frame; ${stages}`,
    `backend ${s.backend} (float32)${s.wasm_heap_bytes ? `, wasm heap ${fmtBytes(s.wasm_heap_bytes)}` : ''}; weights: ${s.weights}`,
  ].join('\n');
}

interface CommandOptions extends InpaintCliOptions {
  weights: string;
  backend?: BackendName;
}

export async function runInpaintCommand(opts: CommandOptions, log: (line: string) => void = (l) => console.error(l)): Promise<InpaintSummary> {
  const t0 = performance.now();
  const job = user(() => jobFromOptions(opts));
  const info = await initRuntime({ backend: opts.backend });
  let inputs: OpenedInputs;
  try {
    inputs = await openInputs(job);
  } catch (e) {
    throw new UserError((e as Error).message);
  }
  const { netSize, outSize } = checkSizes(job, inputs.inputSize);
  if (info.backend === 'wasm') {
    const req = { ...netSize, frames: inputs.frames.length, subvideoLength: job.subvideoLength, neighborLength: job.neighborLength, refStride: job.refStride };
    const est = estimateInpaintHeap(req);
    if (est.bytes > WASM_HEAP_BUDGET) throw new UserError(formatHeapRefusal(est, { ...req, resizeRatio: job.resizeRatio }));
  }
  const dir = path.join(opts.output, inputs.name);
  checkWritable(dir);
  if (opts.fp16) log(`--fp16: the ${info.backend} backend has no half-precision path; running in float32`);
  const models = user(() => loadInferenceModels(opts.weights));
  const out = openOutputs(dir, outSize, inputs.fps, opts.save_frames);
  const onSigint = () => {
    out.abort();
    process.exit(130);
  };
  process.once('SIGINT', onSigint);
  const counts: Record<StageName, [number, number]> = Object.fromEntries(STAGES.map((s) => [s, [0, 0]])) as Record<StageName, [number, number]>;
  const bar = progress(inputs.frames.length, { label: `inpaint ${inputs.name}` });
  let result: JobResult;
  try {
    result = await runInpaintJob(job, inputs, models, () => out, {
      onNote: (n) => log(`note: ${n}`),
      onProgress: (e) => {
        counts[e.stage] = [e.done, e.total];
        const short: Record<StageName, string> = { read: 'read', raft: 'raft', flow_completion: 'flow', propagation: 'prop', transformer: 'windows', write: 'written' };
        bar.update(counts.write[0], STAGES.map((s) => `${short[s]} ${counts[s][0]}/${counts[s][1]}`).join(' · '));
      },
    });
    await out.finish();
  } catch (e) {
    out.abort();
    bar.done('failed');
    throw e instanceof InputError ? new UserError(e.message) : e;
  } finally {
    process.removeListener('SIGINT', onSigint);
    disposeModels(models);
  }
  bar.done();
  const outputs = ['inpaint_out.mp4', 'masked_in.mp4', 'compare.mp4', ...(opts.save_frames ? ['frames/'] : []), 'summary.json'];
  const summary = summarize(job, result, describeWeights(opts.weights), (performance.now() - t0) / 1000, outputs);
  writeJsonAtomic(path.join(dir, 'summary.json'), summary);
  return summary;
}

const command: CliCommand = {
  name: 'inpaint',
  description: 'remove objects from (or complete / outpaint) a video, as the official inference_propainter.py',
  configure: (cmd) =>
    addInpaintOptions(cmd)
      .showHelpAfterError(false) // a bad flag is one line, like every other bad input
      .option('--weights <dir>', 'folder with raft-things.pth, recurrent_flow_completion.pth, ProPainter.pth (or .safetensors)', 'weights')
      .option('--backend <name>', 'tensorflow | wasm | cpu (default: best available)')
      .action(async (opts: CommandOptions) => {
        const s = await runInpaintCommand(opts);
        console.log(formatSummary(s));
        console.log(`results: ${path.join(opts.output, s.name)}`);
      }),
};
export default command;
