/** `propainter fixture-check`: fixture files and `--weights` are user files too. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeSafetensors } from '../../../lib/io/safetensors';
import { ROOT, HostileRow, lit, Sandbox } from '../harness';
import { badSafetensors, bombPth } from '../files';

/** A fixture file whose metadata names `caseName` (no tensors: the rows fail before reading any). */
function fixture(s: Sandbox, caseName: string): string {
  const file = s.at(`${caseName.replace(/\W+/g, '_')}.safetensors`);
  writeSafetensors(file, new Map(), { json: JSON.stringify({ case: caseName, roles: {} }) });
  return file;
}

/** The bundled grid_sample fixture: its component loads no weights. */
const GRID_SAMPLE = path.join(ROOT, 'data', 'fixtures', 'grid_sample_micro.safetensors');

function check(name: string, args: (s: Sandbox) => string[], error: (s: Sandbox) => RegExp): HostileRow {
  return { command: 'fixture-check', name, args: (s) => ['fixture-check', '--backend', 'cpu', ...args(s)], error };
}

export const rows: HostileRow[] = [
  check('--weights naming a missing file', (s) => ['--weights', 'nope.pth', fixture(s, 'raft_bi_synth_1')], () => /^--weights nope\.pth: no such file or folder$/),
  check(
    '--weights for fixtures that load no weights',
    (s) => ['--weights', s.write('w.safetensors', 'x'), GRID_SAMPLE],
    (s) => new RegExp(`^--weights ${lit(s.at('w.safetensors'))}: not used, no fixture given loads weights \\(components: grid_sample\\)$`),
  ),
  check(
    '--weights naming a folder',
    (s) => ['--weights', s.mkdir('weights'), fixture(s, 'raft_bi_synth_1')],
    (s) => new RegExp(`^${lit(s.at('raft_bi_synth_1.safetensors'))}: ${lit(s.at('weights'))}: cannot read the checkpoint: it is a folder, not a checkpoint file$`),
  ),
  check(
    '--weights a ZIP bomb',
    (s) => ['--weights', bombPth(s), fixture(s, 'raft_bi_synth_1')],
    (s) => new RegExp(`^${lit(s.at('raft_bi_synth_1.safetensors'))}: ${lit(s.at('bomb.pth'))}: entry "archive/data/0" inflates \\d+ compressed bytes to 80000000, beyond`),
  ),
  check(
    'a fixture whose case names a component outside components/',
    (s) => {
      s.write('evil.ts', 'require("fs").writeFileSync("PWNED", "x"); export const run = 1;');
      return [fixture(s, `${path.relative(path.join(ROOT, 'lib', 'fixtures', 'components'), s.at('evil'))}_synth_1`)];
    },
    // Components are an explicit registry: a name from a fixture never reaches the filesystem.
    (s) => new RegExp(`^${lit(s.at(''))}.*\\.safetensors: not implemented: (\\.\\./)+.*evil$`),
  ),
  check(
    'a fixture file with a bad safetensors header',
    (s) => [badSafetensors(s)],
    (s) => new RegExp(`^${lit(s.at('bad.safetensors'))}: tensor "fnet\\.conv1\\.weight" has invalid data_offsets`),
  ),
  check(
    'a fixture path that does not exist',
    () => ['missing.safetensors'],
    () => /^fixture path not found: missing\.safetensors$/,
  ),
];

/** The component outside components/ was never loaded. */
for (const r of rows) r.check = (s) => {
  if (fs.existsSync(s.at('PWNED'))) throw new Error('code from a fixture name ran');
};
