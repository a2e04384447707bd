/**
 * Two-process jobs under Open MPI and MPICH (both installed by .ci/run): exact collectives when
 * joined under mpiexec, the launcher path from a plain node process, failures that end the job
 * naming the rank, and Ctrl-C on the launcher reaching every rank. Each case is one short job.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { findMpiexec, mpiexecArgs, type MpiFlavour } from '../../lib/dist';
import { UCX_DEFAULTS } from '../../lib/dist/mpi';
import { BIN, NODE, ROOT, lastLine, run } from './helpers';

const PROGRAM = path.join(ROOT, 'test', 'dist', 'rank-program.ts');

for (const mpi of ['openmpi', 'mpich'] as const satisfies readonly MpiFlavour[]) {
  test(`${mpi}: mpiexec -n 2 — allreduce-mean, broadcast, barrier, bucketed tensors, training weight broadcast and gradient averaging are exact on both ranks`, async () => {
    const m = findMpiexec(mpi);
    const r = await run([m.path, ...mpiexecArgs(m, 2, [...NODE, PROGRAM, 'check'], { root: process.getuid?.() === 0 })]);
    assert.equal(r.code, 0, r.err);
    const results = r.out
      .split('\n')
      .filter((l) => l.startsWith('RESULT '))
      .map((l) => JSON.parse(l.slice(7)) as Record<string, unknown>)
      .sort((a, b) => (a.rank as number) - (b.rank as number));
    assert.equal(results.length, 2, r.out);
    for (const [rank, res] of results.entries()) {
      assert.equal(res.rank, rank);
      assert.equal(res.size, 2);
      assert.equal(res.kind, mpi);
      assert.equal(res.allreduceOk, true);
      assert.deepEqual(res.broadcast, [-1, -0.75, -0.5, -0.25, 0, 0.25, 0.5]);
      assert.equal(res.bytes, '{"seed":2023,"é":1}');
      // Rank r holds (r + 1)·(i + name length); the mean is 1.5× rank 0's, broadcast is rank 0's.
      assert.deepEqual(res.tensors, {
        'b.weight': { shape: [2, 3], mean: [12, 13.5, 15, 16.5, 18, 19.5], bcast: [8, 9, 10, 11, 12, 13] },
        'a.bias': { shape: [4], mean: [9, 10.5, 12, 13.5], bcast: [6, 7, 8, 9] },
        'c.w': { shape: [5], mean: [4.5, 6, 7.5, 9, 10.5], bcast: [3, 4, 5, 6, 7] },
        'a.weight': { shape: [3, 1, 1], mean: [12, 13.5, 15], bcast: [8, 9, 10] },
      });
      // Rank 0's weights and float buffers on both ranks; integer buffers stay; gradient means,
      // a gradient missing on rank 1 counted as zero there, none for a parameter without any.
      assert.deepEqual(res.ddp, {
        weights: { w: [1, 2, 3], stat: [0.5], index: [rank, rank] },
        averaged: { a: [2, 5], b: [3, 4] },
      });
      assert.equal(res.leaked, 0);
      // UCX's libc patching is off in every rank (it crashed or hung 1 job in 11 under MPICH).
      assert.deepEqual(res.ucx, UCX_DEFAULTS);
    }
    assert.match(r.err, new RegExp(`propainter: rank 1 of 2 on \\S+, pid \\d+, ${mpi === 'openmpi' ? 'Open MPI v4' : 'MPICH 4'}`));
  });

  test(`${mpi}: a rank killed mid-job ends the whole job non-zero within seconds, naming rank 1`, async () => {
    const r = await run([...NODE, PROGRAM, 'die:kill', '--nproc', '2', '--mpi', mpi]);
    assert.notEqual(r.code, 0);
    assert.match(lastLine(r.err), /^error: rank 1 of 2 .*(killed by signal 9|Killed \(signal 9\))/);
    assert.doesNotMatch(r.out, /UNEXPECTED/);
    const killed = Number(/rank 1 kills itself at (\d+)/.exec(r.err)?.[1]);
    // Both launchers took 1–2 s here; generous for a loaded CI machine, far from a hang.
    assert.ok(Number.isFinite(killed) && Date.now() - killed < 60_000, r.err);
  });

  test(`${mpi}: a rank that exits with code 0 without finalizing aborts the job (MPICH would report success)`, async () => {
    const r = await run([...NODE, PROGRAM, 'die:exit0', '--nproc', '2', '--mpi', mpi]);
    assert.notEqual(r.code, 0);
    assert.equal(lastLine(r.err), `error: rank 1 of 2 ended before the job finished (no finalize); mpiexec.${mpi} exited with code 1`);
  });

  test(`${mpi}: a failed rank whose stderr never reaches the launcher is still named, from its last words in the launcher's folder`, async () => {
    const r = await run([...NODE, PROGRAM, 'die:mute', '--nproc', '2', '--mpi', mpi]);
    assert.notEqual(r.code, 0);
    assert.match(lastLine(r.err), /^error: rank 1 of 2 failed: injected failure, unheard; mpiexec\.\w+ exited with code \d+$/);
  });

  test(`${mpi}: Ctrl-C on the launching process stops both ranks at the same step`, async () => {
    let sent = false;
    const r = await run([...NODE, PROGRAM, 'stop', '--nproc', '2', '--mpi', mpi], {
      onOut: (text, child) => {
        if (!sent && /STEP 0 3\n/.test(text) && /STEP 1 3\n/.test(text)) {
          sent = true;
          child.kill('SIGINT');
        }
      },
    });
    assert.equal(r.code, 130, r.err); // as one process ended by Ctrl-C
    assert.match(r.err, /propainter: SIGINT: asking all 2 ranks to stop/);
    const stopped = [...r.out.matchAll(/STOPPED (\d) (\d+)/g)].map((m) => [Number(m[1]), Number(m[2])]).sort();
    assert.equal(stopped.length, 2, r.out);
    assert.deepEqual(
      stopped.map((s) => s[0]),
      [0, 1],
    );
    assert.equal(stopped[0][1], stopped[1][1]);
    assert.ok(stopped[0][1] >= 3);
  });
}

test('openmpi: an uncaught error on one rank ends the job with its message and rank', async () => {
  const r = await run([...NODE, PROGRAM, 'die:throw', '--nproc', '2', '--mpi', 'openmpi']);
  assert.equal(r.code, 1);
  assert.equal(lastLine(r.err), 'error: rank 1 of 2 failed: injected failure; mpiexec.openmpi exited with code 1');
  // One line, as the CLI reports errors (the stack only with --debug).
  assert.doesNotMatch(r.err, /\n\s+at /);
});

test('mpich: a rank leaving before MPI_Init does not leave its peer waiting (init watchdog)', async () => {
  const r = await run([...NODE, PROGRAM, 'early:exit3', '--nproc', '2', '--mpi', 'mpich'], { env: { PROPAINTER_DIST_INIT_TIMEOUT: '3' } });
  assert.notEqual(r.code, 0);
  assert.match(lastLine(r.err), /^error: rank 0 of 2: MPI_Init did not finish within 3 s: another rank exited before joining/);
  assert.doesNotMatch(r.out, /UNEXPECTED/);
});

test('propainter dist-check --nproc 2 from a plain node process launches, checks and times the collectives', async () => {
  const r = await run([process.execPath, BIN, 'dist-check', '--nproc', '2', '--floats', '100000', '--reps', '2']);
  assert.equal(r.code, 0, r.err);
  const lines = r.out.trim().split('\n');
  assert.match(lines[0], /^dist-check: 2 process\(es\), (Open MPI v4|MPICH 4)\S*: allreduce-mean, broadcast and barrier exact on every rank$/);
  assert.match(lines[1], /^allreduce-mean of 100,000 floats: best \d+\.\d ms, median \d+\.\d ms over 2$/);
  assert.equal(lines.length, 2);
});

test('mpich: an uncaught error thrown outside the job body (a timer) ends the job with its message and rank', async () => {
  const r = await run([...NODE, PROGRAM, 'die:async', '--nproc', '2', '--mpi', 'mpich']);
  assert.equal(r.code, 1);
  assert.equal(lastLine(r.err), 'error: rank 1 of 2 failed: Error: injected async failure; mpiexec.mpich exited with code 1');
});
