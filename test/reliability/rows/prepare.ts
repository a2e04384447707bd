/** `propainter prepare …`: index files, staging folders, output folders. */
import * as fs from 'node:fs';
import { encodePng } from '../../../lib/io/image';
import { fullDir, HostileRow, lit, mountUnavailable, readOnlyDir, readOnlyUnavailable, Sandbox } from '../harness';

const MASK = ['--width', '16', '--height', '16'];

/** A frames folder <rel>/<video>/00000.png … of 16×16 grey frames. */
async function frames(s: Sandbox, rel: string, video = 'v1', n = 2): Promise<string> {
  const png = await encodePng({ width: 16, height: 16, channels: 3, data: new Uint8Array(16 * 16 * 3).fill(90) });
  for (let i = 0; i < n; i++) s.write(`${rel}/${video}/${String(i).padStart(5, '0')}.png`, png);
  return s.at(rel);
}

export const rows: HostileRow[] = [
  {
    command: 'prepare',
    name: 'masks --index naming a video "../../escaped"',
    args: (s) => ['prepare', 'masks', '--index', s.write('idx.json', '{"../../escaped": 2}'), '--out', 'work/masks', ...MASK],
    error: (s) => new RegExp(`^${lit(s.at('idx.json'))}: video "\\.\\./\\.\\./escaped" points outside ${lit(s.at('work/masks'))}$`),
    output: 'work',
  },
  {
    command: 'prepare',
    name: 'masks --index naming an absolute path',
    args: (s) => ['prepare', 'masks', '--index', s.write('idx.json', JSON.stringify({ [s.at('abs')]: 2 })), '--out', 'out', ...MASK],
    error: (s) => new RegExp(`^${lit(s.at('idx.json'))}: video "${lit(s.at('abs'))}" is an absolute path`),
    output: 'out',
  },
  {
    command: 'prepare',
    name: 'masks --index that is not JSON',
    args: (s) => ['prepare', 'masks', '--index', s.write('idx.json', '{"a": 2,'), '--out', 'out', ...MASK],
    error: (s) => new RegExp(`^${lit(s.at('idx.json'))}: invalid JSON`),
  },
  {
    command: 'prepare',
    name: 'masks --index with a negative frame count',
    args: (s) => ['prepare', 'masks', '--index', s.write('idx.json', '{"a": -3}'), '--out', 'out', ...MASK],
    error: (s) => new RegExp(`^${lit(s.at('idx.json'))}: video 'a' has invalid frame count -3$`),
  },
  {
    command: 'prepare',
    name: 'masks into a pre-existing symlinked staging folder',
    args: (s) => {
      s.mkdir('elsewhere');
      s.mkdir('out');
      fs.symlinkSync(s.at('elsewhere'), s.at('out/.video_0000.partial'));
      return ['prepare', 'masks', '--videos', '1', '--frames', '2', '--out', 'out', ...MASK];
    },
    error: (s) => new RegExp(`^${lit(s.at('out/.video_0000.partial'))}: is a symbolic link, not a staging folder`),
    output: 'out',
  },
  {
    command: 'prepare',
    name: 'masks --out below a read-only folder',
    unavailable: readOnlyUnavailable,
    args: async (s) => ['prepare', 'masks', '--videos', '1', '--frames', '2', '--out', `${await readOnlyDir(s, 'ro')}/masks`, ...MASK],
    error: (s) => new RegExp(`^${lit(s.at('ro/masks'))}: cannot create the folder: ${lit(s.at('ro'))} is not writable: (read-only file system \\(EROFS\\)|permission denied \\(EACCES\\))$`),
  },
  {
    command: 'prepare',
    name: 'masks --out on a full disk',
    unavailable: mountUnavailable,
    args: (s) => ['prepare', 'masks', '--videos', '1', '--frames', '2', '--out', `${fullDir(s, 'full')}/masks`, ...MASK],
    error: (s) => new RegExp(`^${lit(s.at('full/masks/.video_0000.partial'))}/0000[01]\\.png: cannot write: no space left on device \\(ENOSPC\\)$`),
    output: 'full',
  },
  {
    command: 'prepare',
    name: 'resize with the output folder inside the input folder',
    args: async (s) => ['prepare', 'resize', '--input_dir', await frames(s, 'in'), '--output_dir', 'in/resized', ...MASK],
    error: (s) => new RegExp(`^${lit(s.at('in/resized'))}: the output folder must be outside the input folder ${lit(s.at('in'))}$`),
  },
  {
    command: 'prepare',
    name: 'resize into a pre-existing symlinked staging folder',
    args: async (s) => {
      await frames(s, 'in');
      s.mkdir('elsewhere');
      s.mkdir('out');
      fs.symlinkSync(s.at('elsewhere'), s.at('out/.v1.partial'));
      return ['prepare', 'resize', '--input_dir', 'in', '--output_dir', 'out', ...MASK];
    },
    error: (s) => new RegExp(`^${lit(s.at('out/.v1.partial'))}: is a symbolic link, not a staging folder`),
    output: 'out',
  },
  {
    command: 'prepare',
    name: 'validate a root whose train.json names "../../x"',
    args: async (s) => {
      await frames(s, 'root/JPEGImages_16_16', 'v1');
      s.write('root/train.json', '{"v1": 2, "../../x": 2}');
      return ['prepare', 'validate', '--root', 'root', '--quick', ...MASK];
    },
    error: (s) => new RegExp(`^1 problem\\(s\\): ${lit(s.at('root/train.json'))}: video "\\.\\./\\.\\./x" points outside ${lit(s.at('root/JPEGImages_16_16'))}$`),
  },
  {
    command: 'prepare',
    name: 'index into a read-only dataset root',
    unavailable: readOnlyUnavailable,
    args: async (s) => ['prepare', 'index', '--root', await readOnlyDir(s, 'root', () => frames(s, 'root/JPEGImages_16_16')), '--split', 'train', ...MASK],
    error: (s) => new RegExp(`^${lit(s.at('root/train.json'))}: cannot write: (read-only file system \\(EROFS\\)|permission denied \\(EACCES\\))$`),
  },
  {
    command: 'prepare',
    name: 'synth --out on a full disk',
    unavailable: mountUnavailable,
    args: (s) => ['prepare', 'synth', '--videos', '1', '--frames', '2', '--out', `${fullDir(s, 'full')}/set`, ...MASK],
    error: (s) => new RegExp(`^${lit(s.at('full/set'))}/.*: cannot write: no space left on device \\(ENOSPC\\)$`),
    output: 'full',
  },
];
