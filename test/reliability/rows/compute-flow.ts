/** `propainter compute-flow`: input/output folders and the RAFT weights file, checked before any flow is computed. */
import { encodePng } from '../../../lib/io/image';
import { HostileRow, lit, readOnlyDir, readOnlyUnavailable, Sandbox } from '../harness';
import { badSafetensors, bombPth, lyingPickle, truncatedPth } from '../files';

/** frames/v/00000.png, 00001.png (16×16; never decoded by these rows). */
async function frames(s: Sandbox): Promise<string> {
  const png = await encodePng({ width: 16, height: 16, channels: 3, data: new Uint8Array(16 * 16 * 3) });
  for (const f of ['00000.png', '00001.png']) s.write(`frames/v/${f}`, png);
  return s.at('frames');
}

const SIZE = ['--height', '128', '--width', '128', '--backend', 'cpu'];

function flow(name: string, setup: (s: Sandbox) => string[] | Promise<string[]>, error: (s: Sandbox) => RegExp, output?: string): HostileRow {
  return { command: 'compute-flow', name, args: async (s) => ['compute-flow', ...(await setup(s)), ...SIZE], error, output };
}

export const rows: HostileRow[] = [
  flow(
    '-o equal to -i',
    async (s) => ['-i', await frames(s), '-o', 'frames', '--raft', s.write('raft.pth', 'x')],
    (s) => new RegExp(`^${lit(s.at('frames'))}: --save_path must be outside --root_path ${lit(s.at('frames'))}$`),
  ),
  flow(
    '-o inside -i',
    async (s) => ['-i', await frames(s), '-o', 'frames/flows', '--raft', s.write('raft.pth', 'x')],
    (s) => new RegExp(`^${lit(s.at('frames/flows'))}: --save_path must be outside --root_path`),
  ),
  flow(
    'an empty video folder',
    async (s) => {
      await frames(s);
      s.mkdir('frames/empty');
      return ['-i', 'frames', '-o', 'flows', '--raft', s.write('raft.pth', 'x')];
    },
    (s) => new RegExp(`^${lit(s.at('frames/empty'))}: empty video \\(no frames\\)$`),
  ),
  {
    ...flow(
      '-o in a read-only folder (refused before computing)',
      async (s) => ['-i', await frames(s), '-o', `${await readOnlyDir(s, 'ro')}/flows`, '--raft', s.write('raft.pth', 'x')],
      (s) => new RegExp(`^${lit(s.at('ro/flows'))}: cannot create the folder: ${lit(s.at('ro'))} is not writable`),
    ),
    unavailable: readOnlyUnavailable,
  },
  flow(
    '--raft naming a folder',
    async (s) => ['-i', await frames(s), '-o', 'flows', '--raft', s.mkdir('weights')],
    (s) => new RegExp(`^${lit(s.at('weights'))}: cannot read the checkpoint: it is a folder, not a checkpoint file$`),
    'flows',
  ),
  flow(
    '--raft a ZIP bomb',
    async (s) => ['-i', await frames(s), '-o', 'flows', '--raft', bombPth(s)],
    (s) => new RegExp(`^${lit(s.at('bomb.pth'))}: entry "archive/data/0" inflates \\d+ compressed bytes to \\d+, beyond`),
    'flows',
  ),
  flow(
    '--raft safetensors with negative data_offsets',
    async (s) => ['-i', await frames(s), '-o', 'flows', '--raft', badSafetensors(s)],
    (s) => new RegExp(`^${lit(s.at('bad.safetensors'))}: tensor "fnet.conv1.weight" has invalid data_offsets \\[-64,0\\]`),
    'flows',
  ),
  flow(
    '--raft a pickle announcing a 2 GB string',
    async (s) => ['-i', await frames(s), '-o', 'flows', '--raft', lyingPickle(s)],
    (s) => new RegExp(`^${lit(s.at('lie.pth'))} \\(archive/data\\.pkl\\): BINUNICODE of 2147483632 bytes at byte 2 .*exceeds`),
    'flows',
  ),
  flow(
    '--raft a truncated download',
    async (s) => ['-i', await frames(s), '-o', 'flows', '--raft', truncatedPth(s)],
    (s) => new RegExp(`^${lit(s.at('cut.pth'))}: truncated or corrupt ZIP archive: no end-of-central-directory record`),
    'flows',
  ),
  flow(
    '--raft a saved HTML error page',
    async (s) => ['-i', await frames(s), '-o', 'flows', '--raft', s.write('raft.pth', '<!DOCTYPE html><html>404</html>')],
    (s) => new RegExp(`^${lit(s.at('raft.pth'))}: this is an HTML/XML page \\(\\d+ bytes\\), not a checkpoint`),
    'flows',
  ),
  {
    command: 'compute-flow',
    name: '--backend that does not exist',
    args: async (s) => ['compute-flow', '-i', await frames(s), '-o', 'flows', '--backend', 'gpu9'],
    error: () => /^backend "gpu9" is not a backend; use one of tensorflow, wasm, cpu$/,
  },
];
