/**
 * Child process of streaming.test.ts: inpaints a synthetic clip (128×128, a textured scene
 * panning right, a moving square hole) of N frames with --subvideo_length 10 and det-init
 * weights, streaming or whole-clip, writes the result frames to a file and prints the peak wasm
 * heap and peak RSS (VmHWM) as JSON. Separate processes because both peaks are high-water marks.
 */
import * as fs from 'fs';
import { initRuntime } from '../../lib/runtime';
import { detInitModels, disposeModels, inpaintVideo } from '../../lib/inference';
import type { Image8 } from '../../lib/io/image';
import { wasmHeapBytes } from '../../lib/models/analyze';

export const SIZE = 128;

export function* syntheticClip(n: number): Generator<Image8> {
  for (let t = 0; t < n; t++) {
    const data = new Uint8Array(SIZE * SIZE * 3);
    for (let y = 0; y < SIZE; y++) {
      for (let x = 0; x < SIZE; x++) {
        const u = x + 2 * t;
        const i = (y * SIZE + x) * 3;
        data[i] = 128 + 100 * Math.sin(u / 9) * Math.cos(y / 13);
        data[i + 1] = 128 + 90 * Math.sin((u + y) / 17);
        data[i + 2] = (u * 3 + y * 5) & 255;
      }
    }
    yield { width: SIZE, height: SIZE, channels: 3, data };
  }
}

export function* syntheticMasks(n: number): Generator<Image8> {
  for (let t = 0; t < n; t++) {
    const data = new Uint8Array(SIZE * SIZE);
    const x0 = 30 + ((t * 3) % 60);
    for (let y = 50; y < 74; y++) for (let x = x0; x < x0 + 24; x++) data[y * SIZE + x] = 255;
    yield { width: SIZE, height: SIZE, channels: 1, data };
  }
}

function vmHwm(): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) * 1024 : process.memoryUsage().rss;
}

async function main(): Promise<void> {
  const [n, mode, out] = process.argv.slice(2);
  const frames = Number(n);
  await initRuntime({ backend: 'wasm' });
  const models = detInitModels();
  const fd = fs.openSync(out, 'w');
  try {
    await inpaintVideo(
      { length: frames, frames: syntheticClip(frames) },
      { length: frames, frames: syntheticMasks(frames) },
      {
        models, subvideoLength: 10, raftIter: 2, stream: mode === 'stream',
        onFrame: (f) => void fs.writeSync(fd, f.result.data),
      },
    );
  } finally {
    fs.closeSync(fd);
    disposeModels(models);
  }
  console.log(JSON.stringify({ heap: wasmHeapBytes(), rss: vmHwm() }));
}

if (require.main === module) {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
