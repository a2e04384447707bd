/**
 * Video files through ffmpeg (lib/io/image.ts finds the binary): probing the frame count and fps,
 * frames as an async stream (one decode, bounded memory), and an H.264 writer whose file appears
 * only when it is complete (temporary name, renamed on close).
 *
 * The writer encodes as the official script's `imageio.mimwrite(..., fps, quality=7)` does:
 * libx264, yuv420p, CRF 15 (imageio-ffmpeg maps quality q to CRF ⌊(1 − q/10)·51⌋). yuv420p needs
 * even sides: an odd width or height is padded by one black column / row (imageio instead scales
 * to a multiple of 16).
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { ffmpegBinary, forEachVideoFrame, type Image8 } from './image';
import { fsyncDir } from './atomic';

export interface VideoInfo {
  frames: number;
  /** Average frame rate of the first video stream (as torchvision's `video_fps`). */
  fps: number;
  width: number;
  height: number;
}

/** Frame count (packets of the first video stream, no decoding), fps and size of a video file. */
export function probeVideo(file: string): Promise<VideoInfo> {
  if (!fs.existsSync(file)) return Promise.reject(new Error(`${file}: video file not found`));
  return new Promise((resolve, reject) => {
    const p = spawn(ffmpegBinary(), ['-nostdin', '-hide_banner', '-i', file, '-map', '0:v:0', '-c', 'copy', '-f', 'null', '-'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.on('error', (e) => reject(new Error(`${file}: cannot run ffmpeg (${e.message})`)));
    p.on('close', (code) => {
      const line = /Stream #\S+: Video: [^\n]*/.exec(err)?.[0] ?? '';
      // Size as " 432x240" followed by a separator (not a codec tag such as 0x31637661).
      const size = /[ ,](\d{2,5})x(\d{2,5})(?=[ ,\[]|$)/.exec(line);
      const rate = /([\d.]+) fps/.exec(line) ?? /([\d.]+) tbr/.exec(line);
      const counts = [...err.matchAll(/frame=\s*(\d+)/g)];
      if (code !== 0 || !size || !rate) {
        reject(new Error(`${file}: not a readable video (${err.trim().split('\n').slice(-1)[0] ?? `ffmpeg exit ${code}`})`));
        return;
      }
      const frames = counts.length ? Number(counts[counts.length - 1][1]) : 0;
      if (frames === 0) return reject(new Error(`${file}: no video frames`));
      resolve({ frames, fps: Number(rate[1]), width: Number(size[1]), height: Number(size[2]) });
    });
  });
}

/** The frames of a video as an async iterable (decoded once, one frame ahead at most). */
export function videoFrames(file: string): AsyncIterable<Image8> {
  return {
    [Symbol.asyncIterator](): AsyncIterator<Image8> {
      const queue: Array<{ img: Image8; release: () => void }> = [];
      let waiting: ((r: IteratorResult<Image8>) => void) | null = null;
      let failWaiting: ((e: unknown) => void) | null = null;
      let finished = false;
      let error: unknown = null;
      const done = forEachVideoFrame(file, (img) =>
        new Promise<void>((release) => {
          if (waiting) {
            const w = waiting;
            waiting = null;
            w({ value: img, done: false });
            release();
          } else queue.push({ img, release });
        }),
      ).then(
        () => {
          finished = true;
          waiting?.({ value: undefined, done: true });
        },
        (e) => {
          error = e;
          failWaiting?.(e);
        },
      );
      void done;
      return {
        next(): Promise<IteratorResult<Image8>> {
          if (error) return Promise.reject(error);
          const q = queue.shift();
          if (q) {
            q.release();
            return Promise.resolve({ value: q.img, done: false });
          }
          if (finished) return Promise.resolve({ value: undefined, done: true });
          return new Promise((resolve, reject) => {
            waiting = resolve;
            failWaiting = reject;
          });
        },
      };
    },
  };
}

export interface VideoWriter {
  write(img: Image8): Promise<void>;
  /** Finishes the file and moves it into place. */
  close(): Promise<void>;
  /** Stops and removes the temporary file (nothing half-written is left). */
  abort(): void;
}

/** Quality 7 of imageio-ffmpeg for libx264. */
export const IMAGEIO_QUALITY7_CRF = 15;

export function openVideoWriter(file: string, opts: { width: number; height: number; fps: number }): VideoWriter {
  const { width, height, fps } = opts;
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp.mp4`);
  const args = [
    '-nostdin', '-v', 'error', '-y', '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-s', `${width}x${height}`, '-r', String(fps), '-i', '-',
    '-an', '-c:v', 'libx264', '-pix_fmt', 'yuv420p', '-crf', String(IMAGEIO_QUALITY7_CRF),
  ];
  if (width % 2 || height % 2) args.push('-vf', 'pad=ceil(iw/2)*2:ceil(ih/2)*2');
  args.push('-movflags', '+faststart', tmp);
  const p: ChildProcessWithoutNullStreams = spawn(ffmpegBinary(), args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let err = '';
  let failure: Error | null = null;
  p.stderr.on('data', (d: Buffer) => (err += d.toString()));
  p.stdin.on('error', (e) => (failure ??= new Error(`${file}: ffmpeg input closed (${e.message}): ${err.trim()}`)));
  p.on('error', (e) => (failure ??= new Error(`${file}: cannot run ffmpeg (${e.message})`)));
  const exited = new Promise<number | null>((resolve) => p.on('close', (code) => resolve(code)));
  let closed = false;
  return {
    async write(img: Image8): Promise<void> {
      if (failure) throw failure;
      if (img.width !== width || img.height !== height || img.channels !== 3) {
        throw new Error(`${file}: frame ${img.width}x${img.height}x${img.channels}, writer is ${width}x${height}x3`);
      }
      if (!p.stdin.write(Buffer.from(img.data.buffer, img.data.byteOffset, img.data.byteLength))) {
        await new Promise<void>((resolve) => p.stdin.once('drain', resolve));
      }
    },
    async close(): Promise<void> {
      closed = true;
      p.stdin.end();
      const code = await exited;
      if (failure || code !== 0) {
        fs.rmSync(tmp, { force: true });
        throw failure ?? new Error(`${file}: ffmpeg failed (exit ${code}): ${err.trim().split('\n').slice(-3).join(' | ')}`);
      }
      fs.renameSync(tmp, file);
      fsyncDir(path.dirname(file));
    },
    abort(): void {
      if (!closed) p.kill('SIGKILL');
      closed = true;
      void exited.then(() => fs.rmSync(tmp, { force: true }));
      fs.rmSync(tmp, { force: true });
    },
  };
}
