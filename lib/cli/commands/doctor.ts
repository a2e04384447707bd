import { spawnSync } from 'child_process';
import * as fs from 'fs';
import type { CliCommand } from '../command';
import { initRuntime, availableNativeFlavours, BackendName } from '../../runtime';

function probe(cmd: string, args: string[]): string | null {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 20000 });
  if (r.error || r.status !== 0) return null;
  return (r.stdout || r.stderr).split('\n')[0].trim();
}

function firstExisting(paths: string[]): string | null {
  return paths.find((p) => fs.existsSync(p)) ?? null;
}

export interface DoctorReport {
  backend: string;
  flavour: string;
  gpu: boolean;
  wasmKernelPack: boolean;
  /** XNNPACK threads of the wasm backend (PROPAINTER_THREADS), and why fewer run if so. */
  threads: number;
  threadsNote: string | null;
  tfjs: string;
  node: string;
  nativeFlavoursInstalled: string[];
  jupyter: string | null;
  tslab: boolean;
  ffmpeg: string | null;
  chromium: string | null;
}

export async function doctor(backend?: BackendName): Promise<DoctorReport> {
  const rt = await initRuntime({ backend });
  const nbconvert = firstExisting(['/usr/bin/jupyter-nbconvert']);
  let ffmpeg = probe('ffmpeg', ['-version']);
  if (!ffmpeg) {
    try {
      const p = (require('@ffmpeg-installer/ffmpeg') as { path: string }).path;
      const v = probe(p, ['-version']);
      ffmpeg = v ? `${v} (npm @ffmpeg-installer)` : null;
    } catch {
      ffmpeg = null;
    }
  }
  const chromium = firstExisting(['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome']);
  let tslab = false;
  try {
    require.resolve('tslab/package.json');
    tslab = true;
  } catch {
    tslab = false;
  }
  return {
    backend: rt.backend,
    flavour: rt.flavour,
    gpu: rt.gpu,
    wasmKernelPack: rt.wasmKernelPack,
    threads: rt.threads,
    threadsNote: rt.threadsNote ?? null,
    tfjs: rt.tfjsVersion,
    node: rt.nodeVersion,
    nativeFlavoursInstalled: availableNativeFlavours(),
    jupyter: nbconvert ? probe(nbconvert, ['--version']) ?? nbconvert : null,
    tslab,
    ffmpeg,
    chromium: chromium ? probe(chromium, ['--version']) ?? chromium : null,
  };
}

const HINTS = {
  jupyter: 'apt-get install -y --no-install-recommends jupyter-nbconvert jupyter-client (add jupyter-notebook for interactive use)',
  ffmpeg: 'apt-get install -y ffmpeg (or npm install @ffmpeg-installer/ffmpeg)',
  chromium: 'apt-get install -y chromium (used for static figure export and HTML checks)',
  gpu: 'with internet access: npm install @tensorflow/tfjs-node-gpu (CUDA 11.2 / cuDNN 8.1) or @tensorflow/tfjs-node for multithreaded CPU',
};

const command: CliCommand = {
  name: 'doctor',
  description: 'report the TF.js backend, GPU use, versions and optional tools (Jupyter, ffmpeg, Chromium)',
  configure: (cmd) =>
    cmd
      .option('--json', 'print the report as JSON')
      .option('--backend <name>', 'tensorflow | wasm | cpu (default: best available)')
      .action(async (opts: { json?: boolean; backend?: BackendName }) => {
        const r = await doctor(opts.backend);
        if (opts.json) {
          console.log(JSON.stringify(r, null, 2));
          return;
        }
        const line = (k: string, v: string) => console.log(`${k.padEnd(16)} ${v}`);
        line('backend', `${r.backend} (${r.flavour})${r.backend === 'wasm' ? `, training kernel pack ${r.wasmKernelPack ? 'registered' : 'MISSING'}` : ''}`);
        if (r.backend === 'wasm') line('threads', `${r.threads} (PROPAINTER_THREADS)${r.threadsNote ? `: ${r.threadsNote}` : ''}`);
        line('gpu', r.gpu ? 'yes' : `no — ${HINTS.gpu}`);
        line('tfjs', r.tfjs);
        line('node', r.node);
        line('native tfjs', r.nativeFlavoursInstalled.length ? r.nativeFlavoursInstalled.join(', ') : 'not installed (optional)');
        line('jupyter', r.jupyter ?? `not found — ${HINTS.jupyter}`);
        line('tslab kernel', r.tslab ? 'installed (npm)' : 'missing — npm ci');
        line('ffmpeg', r.ffmpeg ?? `not found — ${HINTS.ffmpeg}`);
        line('chromium', r.chromium ?? `not found — ${HINTS.chromium}`);
      }),
};
export default command;
