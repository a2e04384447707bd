/**
 * --nproc: videos spread over worker processes give exactly the single-process outputs (records,
 * metrics file, CSV, results, saved frames, strips; only the timings differ); a worker that dies
 * ends the evaluation with an error naming its video while the videos finished before stay
 * recorded, and the rerun evaluates only what is left. ProPainter completion and I3D with det-init
 * weights on 3 synthetic videos of 3 frames at 64×64 with exact flows (about 1 min of CPU).
 */
import { after, before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { useBackend } from '../../lib/runtime';
import { writeSynthDataset } from '../../lib/data/prepare';
import { EvaluationRequest, runEvaluation } from '../../lib/eval/run';
import { readResultsFile } from '../../lib/eval/results';

let TMP = '';
let REQ: EvaluationRequest;

before(async () => {
  await useBackend('wasm');
  TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'pp-evalpool-'));
  const data = path.join(TMP, 'syn');
  await writeSynthDataset({ out: data, videos: 3, frames: 3, width: 64, height: 64, seed: 4, format: 'png', floEncoding: 'float32', maxSpeed: 2 });
  REQ = {
    dataset: 'davis', videoRoot: path.join(data, 'JPEGImages_64_64'), maskRoot: path.join(data, 'test_masks'), flowRoot: path.join(data, 'flows'),
    loadFlow: true, width: 64, height: 64, neighborLength: 2, refStride: 2, weights: path.join(TMP, 'no-weights'), detInit: true, saveResults: true,
  };
  fs.mkdirSync(REQ.weights!);
});
after(() => fs.rmSync(TMP, { recursive: true, force: true }));

/** Every file of an evaluation folder, with the wall-clock fields blanked. */
function contents(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string) => {
    for (const name of fs.readdirSync(d).sort()) {
      const p = path.join(d, name);
      if (fs.statSync(p).isDirectory()) walk(p);
      else out.set(path.relative(dir, p), fs.readFileSync(p).toString('base64'));
    }
  };
  walk(dir);
  const text = (rel: string, fix: (s: string) => string) => out.set(rel, fix(Buffer.from(out.get(rel)!, 'base64').toString('utf8')));
  for (const rel of out.keys()) {
    if (rel.endsWith('.json')) {
      text(rel, (s) => s.replace(/"seconds_per_frame": [^,\n]+/g, '"seconds_per_frame": T').replace(/"updated": "[^"]+"/, '"updated": U'));
    }
  }
  text('davis_metrics.txt', (s) => s.replace(/Time: [\d.]+/g, 'Time: T'));
  text('per_video.csv', (s) => s.replace(/,[^,\n]+\n/g, ',T\n'));
  return out;
}

test('--nproc 2 equals one process; a dead worker names its video, the finished ones stay recorded, a rerun evaluates the rest', async () => {
  const one = path.join(TMP, 'one');
  const single = await runEvaluation({ ...REQ, out: one, nproc: 1, log: () => {} });
  assert.ok(single.complete && single.summary.vfid !== null && single.summary.vfid > 0);

  const two = path.join(TMP, 'two');
  const lines: string[] = [];
  // The third video goes to whichever worker finishes first: kill that process as it is handed the video.
  const killed: number[] = [];
  const log = (l: string) => {
    lines.push(l);
    const m = /^worker \d \(process (\d+)\): synth_0002$/.exec(l);
    if (m) {
      killed.push(Number(m[1]));
      process.kill(Number(m[1]), 'SIGKILL');
    }
  };
  await assert.rejects(runEvaluation({ ...REQ, out: two, nproc: 2, log }), (e: Error) => {
    assert.match(e.message, new RegExp(`^${path.join(REQ.videoRoot, 'synth_0002')}: the evaluation worker evaluating this video \\(process ${killed[0]}\\) died \\(signal SIGKILL\\)`));
    assert.ok(e.message.includes(`recorded in ${two}`) && !e.message.includes('\n'), e.message);
    return true;
  });
  assert.ok(lines.some((l) => l.includes('on 2 worker processes')), lines.join('\n'));
  assert.deepEqual(fs.readdirSync(path.join(two, 'per_video')).sort(), ['synth_0000.json', 'synth_0001.json']);
  assert.equal(readResultsFile(two).complete, false);

  const rerun: string[] = [];
  const res = await runEvaluation({ ...REQ, out: two, nproc: 2, log: (l) => rerun.push(l) });
  assert.ok(rerun.some((l) => l.includes('2 of 3 videos finished earlier, skipped')), rerun.join('\n'));
  // One video left: evaluated in this process.
  assert.ok(rerun.some((l) => l.startsWith('ProPainter completion on 3 video(s) →')), rerun.join('\n'));
  assert.ok(res.complete);
  assert.deepEqual(res.summary, { ...single.summary, seconds_per_frame: res.summary.seconds_per_frame });
  const a = contents(one);
  const b = contents(two);
  assert.deepEqual([...b.keys()], [...a.keys()]);
  for (const [rel, v] of a) assert.equal(b.get(rel), v, rel);
  assert.ok(a.has('synth_0001/00002.png') && a.has('strips/synth_0002.jpg'));
});
