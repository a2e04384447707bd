/** `propainter report RUN…`: a run folder's files are untrusted (sample index, log, config). */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { fullDir, HostileRow, lit, mountUnavailable, readOnlyDir, readOnlyUnavailable, Sandbox } from '../harness';

const LOG = '{"event":"start","iteration":0,"time":"2024-01-01T00:00:00Z","name":"r1","model":"flowcomp"}\n{"iteration":1,"lr":0.0001,"it_per_s":2,"size":[16,16],"loss/flow":0.5}\n';

/** A minimal run folder `run/` whose sample index lists `files` (one training image each). */
function run(s: Sandbox, files: unknown[]): string {
  s.write('run/log.jsonl', LOG);
  s.write('run/samples/samples.jsonl', files.map((file, i) => JSON.stringify({ iteration: i + 1, tag: `t${i}`, file, phase: 'train' }) + '\n').join(''));
  return 'run';
}

// The run folder is given relative to the working directory, and named so in errors.
const index = lit('run/samples/samples.jsonl');
const OUT = ['-o', 'out/report.html'];

export const rows: HostileRow[] = [
  {
    command: 'report',
    name: 'samples.jsonl naming "../../secret.txt"',
    args: (s) => {
      s.write('secret.txt', 'password');
      return ['report', run(s, ['../../secret.txt']), ...OUT];
    },
    error: (s) => new RegExp(`^${index}: file "\\.\\./\\.\\./secret\\.txt" points outside ${lit(s.at('run/samples'))}$`),
    output: 'out',
    check: (s) => assert.equal(fs.existsSync(s.at('out/report.html')), false, 'no report written'),
  },
  {
    command: 'report',
    name: 'samples.jsonl naming ../../../../../../../../../etc/passwd',
    args: (s) => ['report', run(s, ['../'.repeat(s.dir.split('/').length + 2) + 'etc/passwd']), ...OUT],
    error: () => new RegExp(`^${index}: file "(\\.\\./)+etc/passwd" points outside`),
    output: 'out',
  },
  {
    command: 'report',
    name: 'a sample image that is a symbolic link out of the run',
    args: (s) => {
      s.write('secret.png', 'password');
      const r = run(s, ['000001_t0.png']);
      fs.symlinkSync(s.at('secret.png'), s.at('run/samples/000001_t0.png'));
      return ['report', r, ...OUT];
    },
    error: (s) => new RegExp(`^${index}: file "000001_t0\\.png" is a link to ${lit(s.at('secret.png'))}, outside`),
    output: 'out',
  },
  {
    command: 'report',
    name: 'a sample image that is not a PNG',
    args: (s) => {
      const r = run(s, ['000001_t0.png']);
      s.write('run/samples/000001_t0.png', 'GIF89a');
      return ['report', r, ...OUT];
    },
    error: (s) => new RegExp(`^${lit(s.at('run/samples/000001_t0.png'))}: not a PNG image$`),
    output: 'out',
  },
  {
    command: 'report',
    name: 'samples.jsonl whose file is a number',
    args: (s) => ['report', run(s, [5]), ...OUT],
    error: () => new RegExp(`^${index}: `),
    output: 'out',
  },
  {
    command: 'report',
    name: 'a config.json that is not JSON',
    args: (s) => {
      s.write('run/config.json', '{"name": ');
      return ['report', run(s, []), ...OUT];
    },
    error: () => /^run\/config\.json: not valid JSON/,
  },
  {
    command: 'report',
    name: 'a log.jsonl with a corrupt line in the middle',
    args: (s) => {
      run(s, []);
      s.write('run/log.jsonl', LOG + '{"iteration": 2, "lr\n' + LOG.split('\n')[1] + '\n');
      return ['report', 'run', ...OUT];
    },
    error: () => /^run\/log\.jsonl:3: not valid JSON/,
  },
  {
    command: 'report',
    name: '-o in a read-only folder',
    unavailable: readOnlyUnavailable,
    args: async (s) => ['report', run(s, []), '-o', `${await readOnlyDir(s, 'ro')}/report.html`],
    error: (s) => new RegExp(`^${lit(s.at('ro/report.html'))}: cannot write: (read-only file system \\(EROFS\\)|permission denied \\(EACCES\\))$`),
  },
  {
    command: 'report',
    name: '-o on a full disk',
    unavailable: mountUnavailable,
    args: (s) => ['report', run(s, []), '-o', `${fullDir(s, 'full')}/report.html`],
    error: (s) => new RegExp(`^${lit(s.at('full/report.html'))}: cannot write: no space left on device \\(ENOSPC\\)$`),
    output: 'full',
  },
  {
    command: 'report',
    name: '-o naming an existing folder',
    args: (s) => {
      s.mkdir('out/report.html');
      return ['report', run(s, []), ...OUT];
    },
    error: (s) => new RegExp(`^${lit('out/report.html')}: cannot write: `),
    output: 'out',
  },
];
