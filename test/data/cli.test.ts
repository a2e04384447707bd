/** `propainter prepare …` end to end, run as a user would in a temporary folder. */
import { after, before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Command } from 'commander';
import { ffmpegBinary, imageSize, readRgb } from '../../lib/io/image';
import prepareCommand from '../../lib/cli/commands/prepare';

const ROOT = path.resolve(__dirname, '..', '..');
const BIN = path.join(ROOT, 'bin', 'propainter.js');
const CLIP = path.join(ROOT, 'data', 'davis-sample');
const CLIP_FRAMES = path.join(CLIP, 'JPEGImages_432_240', 'bmx-trees');
const CLIP_MASKS = path.join(CLIP, 'test_masks', 'bmx-trees');
let TMP = '';

before(() => {
  TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'pp-cli-'));
});

after(() => fs.rmSync(TMP, { recursive: true, force: true }));

function cli(...args: string[]): { code: number; out: string; err: string } {
  const r = spawnSync(process.execPath, [BIN, 'prepare', ...args], { cwd: TMP, encoding: 'utf8', timeout: 120000 });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

/** sha256 of every file under dir (relative path → hash), including hidden ones. */
function tree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const n of fs.readdirSync(d).sort()) {
      const p = path.join(d, n);
      if (fs.statSync(p).isDirectory()) walk(p);
      else out[path.relative(dir, p)] = createHash('sha256').update(fs.readFileSync(p)).digest('hex');
    }
  };
  walk(dir);
  return out;
}

/** A small root: the first n bundled frames and masks, with matching split files. */
function smallRoot(name: string, n = 12): string {
  const r = path.join(TMP, name);
  fs.mkdirSync(path.join(r, 'JPEGImages_432_240', 'bmx-trees'), { recursive: true });
  fs.mkdirSync(path.join(r, 'test_masks', 'bmx-trees'), { recursive: true });
  for (let i = 0; i < n; i++) {
    const f = `${String(i).padStart(5, '0')}`;
    fs.copyFileSync(path.join(CLIP_FRAMES, `${f}.jpg`), path.join(r, 'JPEGImages_432_240', 'bmx-trees', `${f}.jpg`));
    fs.copyFileSync(path.join(CLIP_MASKS, `${f}.png`), path.join(r, 'test_masks', 'bmx-trees', `${f}.png`));
  }
  for (const s of ['train', 'test']) fs.writeFileSync(path.join(r, `${s}.json`), JSON.stringify({ 'bmx-trees': n }));
  return r;
}

test('prepare --help lists the subcommands; each has --help', () => {
  const r = spawnSync(process.execPath, [BIN, 'prepare', '--help'], { encoding: 'utf8' });
  assert.equal(r.status, 0);
  // the sub-commands' help, in-process (one CLI start-up is enough)
  const program = new Command('propainter').exitOverride();
  prepareCommand.configure(program.command('prepare'));
  const prep = program.commands.find((c) => c.name() === 'prepare')!;
  for (const s of ['resize', 'index', 'masks', 'synth', 'validate']) {
    assert.match(r.stdout, new RegExp(`\\b${s}\\b`));
    const sub = prep.commands.find((c) => c.name() === s);
    assert.ok(sub, s);
    assert.match(sub.helpInformation(), /Usage: propainter prepare \S+ \[options\]/);
  }
});

test('synth → validate → index, re-runs skip finished videos', () => {
  const r = cli('synth', '--out', 'syn', '--videos', '2', '--frames', '5', '--width', '64', '--height', '48', '--seed', '3', '--format', 'png');
  assert.equal(r.code, 0, r.err);
  const syn = path.join(TMP, 'syn');
  assert.deepEqual(fs.readdirSync(path.join(syn, 'JPEGImages_64_48')), ['synth_0000', 'synth_0001']);
  const flows = fs.readdirSync(path.join(syn, 'flows', 'synth_0000')).sort();
  assert.equal(flows.length, 8);
  assert.ok(flows.includes('00000_00001_f.flo') && flows.includes('00001_00000_b.flo') && flows.includes('00004_00003_b.flo'));
  assert.equal(fs.statSync(path.join(syn, 'flows', 'synth_0000', '00000_00001_f.flo')).size, 12 + 64 * 48 * 4); // float16
  assert.deepEqual(JSON.parse(fs.readFileSync(path.join(syn, 'train.json'), 'utf8')), { synth_0000: 5, synth_0001: 5 });
  const v = cli('validate', '--root', 'syn', '--width', '64', '--height', '48');
  assert.equal(v.code, 0, v.err);
  assert.match(v.out, /2 video\(s\), 10 frames, 10 masks, 16 flow files/);
  const prior = tree(syn);
  const again = cli('synth', '--out', 'syn', '--videos', '2', '--frames', '5', '--width', '64', '--height', '48', '--seed', '3', '--format', 'png');
  assert.equal(again.code, 0, again.err);
  assert.match(again.out, /skipped 2/);
  assert.deepEqual(tree(syn), prior);
  fs.rmSync(path.join(syn, 'train.json'));
  fs.rmSync(path.join(syn, 'test.json'));
  const ix = cli('index', '--root', 'syn', '--width', '64', '--height', '48', '--split', 'train');
  assert.equal(ix.code, 0, ix.err);
  assert.deepEqual(JSON.parse(fs.readFileSync(path.join(syn, 'train.json'), 'utf8')), { synth_0000: 5, synth_0001: 5 });
  assert.ok(!fs.existsSync(path.join(syn, 'test.json')));
  assert.equal(cli('index', '--root', 'syn', '--width', '64', '--height', '48').code, 0);
  assert.deepEqual(JSON.parse(fs.readFileSync(path.join(syn, 'test.json'), 'utf8')), { synth_0000: 5, synth_0001: 5 });
  // bad arguments
  const bad = cli('synth', '--out', 'x', '--videos', '0', '--frames', '5');
  assert.notEqual(bad.code, 0);
  assert.match(bad.err, /--videos/);
});

test('masks: PNG folders in test_masks layout, byte-identical for the same seed', () => {
  const args = ['--videos', '2', '--frames', '4', '--width', '64', '--height', '48'];
  assert.equal(cli('masks', '--out', 'm1', ...args, '--seed', '5').code, 0);
  assert.equal(cli('masks', '--out', 'm2', ...args, '--seed', '5').code, 0);
  assert.equal(cli('masks', '--out', 'm3', ...args, '--seed', '6').code, 0);
  const t1 = tree(path.join(TMP, 'm1'));
  assert.deepEqual(Object.keys(t1), ['video_0000/00000.png', 'video_0000/00001.png', 'video_0000/00002.png', 'video_0000/00003.png',
    'video_0001/00000.png', 'video_0001/00001.png', 'video_0001/00002.png', 'video_0001/00003.png']);
  assert.deepEqual(tree(path.join(TMP, 'm2')), t1);
  assert.notDeepEqual(tree(path.join(TMP, 'm3')), t1);
  // from a split file: names and counts follow it
  fs.writeFileSync(path.join(TMP, 'split.json'), JSON.stringify({ a: 3, b: 2 }));
  assert.equal(cli('masks', '--out', 'm4', '--index', 'split.json', '--width', '64', '--height', '48').code, 0);
  assert.deepEqual(fs.readdirSync(path.join(TMP, 'm4', 'a')).sort(), ['00000.png', '00001.png', '00002.png']);
  assert.deepEqual(fs.readdirSync(path.join(TMP, 'm4', 'b')).sort(), ['00000.png', '00001.png']);
});

test('resize: frame folders and .mp4 files, skips finished videos, resumes an interrupted one', async () => {
  const input = path.join(TMP, 'raw');
  fs.mkdirSync(path.join(input, 'clip'), { recursive: true });
  for (let i = 0; i < 4; i++) fs.copyFileSync(path.join(CLIP_FRAMES, `0000${i}.jpg`), path.join(input, 'clip', `0000${i}.jpg`));
  const cut = spawnSync(ffmpegBinary(), ['-v', 'error', '-i', path.join(ROOT, 'data', 'video-completion', 'running_car.mp4'),
    '-frames:v', '3', '-an', '-c:v', 'mpeg4', '-q:v', '3', path.join(input, 'car.mp4')]);
  assert.equal(cut.status, 0, String(cut.stderr));
  const r = cli('resize', '--input_dir', 'raw', '--output_dir', 'out/JPEGImages_216_120', '--width', '216', '--height', '120');
  assert.equal(r.code, 0, r.err);
  const out = path.join(TMP, 'out', 'JPEGImages_216_120');
  assert.deepEqual(fs.readdirSync(out).sort(), ['car', 'clip']);
  assert.deepEqual(fs.readdirSync(path.join(out, 'clip')).sort(), ['00000.jpg', '00001.jpg', '00002.jpg', '00003.jpg']);
  assert.deepEqual(fs.readdirSync(path.join(out, 'car')).sort(), ['00000.jpg', '00001.jpg', '00002.jpg']);
  assert.deepEqual(await imageSize(path.join(out, 'car', '00002.jpg')), { width: 216, height: 120 });
  const px = await readRgb(path.join(out, 'clip', '00000.jpg'));
  assert.equal(px.data.length, 216 * 120 * 3);
  // finished videos are skipped and left untouched
  const prior = tree(out);
  const again = cli('resize', '--input_dir', 'raw', '--output_dir', 'out/JPEGImages_216_120', '--width', '216', '--height', '120');
  assert.equal(again.code, 0, again.err);
  assert.match(again.out, /skipped 2/);
  assert.deepEqual(tree(out), prior);
  // an interrupted video resumes: frames already in its staging folder are kept, not redone
  fs.rmSync(path.join(out, 'clip'), { recursive: true });
  fs.mkdirSync(path.join(out, '.clip.partial'));
  fs.copyFileSync(path.join(CLIP_FRAMES, '00079.jpg'), path.join(out, '.clip.partial', '00001.jpg'));
  fs.writeFileSync(path.join(out, '.clip.partial', '.00002.jpg.99999999.1.tmp'), 'half-written by a killed run (a pid above any pid_max: not running)');
  const resumed = cli('resize', '--input_dir', 'raw', '--output_dir', 'out/JPEGImages_216_120', '--width', '216', '--height', '120');
  assert.equal(resumed.code, 0, resumed.err);
  assert.ok(!fs.existsSync(path.join(out, '.clip.partial')));
  assert.deepEqual(fs.readdirSync(path.join(out, 'clip')).sort(), ['00000.jpg', '00001.jpg', '00002.jpg', '00003.jpg'], 'temporary leftovers removed');
  assert.deepEqual(fs.readFileSync(path.join(out, 'clip', '00001.jpg')), fs.readFileSync(path.join(CLIP_FRAMES, '00079.jpg')));
  assert.equal(tree(out)['clip/00000.jpg'], prior['clip/00000.jpg'], 'the redone frame is identical');
});

test('resize with a corrupt JPEG: non-zero exit naming the file, existing outputs untouched', () => {
  const input = path.join(TMP, 'raw2');
  for (const v of ['good', 'bad']) {
    fs.mkdirSync(path.join(input, v), { recursive: true });
    for (let i = 0; i < 3; i++) fs.copyFileSync(path.join(CLIP_FRAMES, `0000${i}.jpg`), path.join(input, v, `0000${i}.jpg`));
  }
  const corrupt = path.join(input, 'bad', '00001.jpg');
  fs.writeFileSync(corrupt, fs.readFileSync(corrupt).subarray(0, 3000));
  // an earlier run already produced 'good' (and a split file sits beside it)
  fs.mkdirSync(path.join(TMP, 'o2'));
  fs.cpSync(path.join(input, 'good'), path.join(TMP, 'o2', 'good'), { recursive: true });
  fs.writeFileSync(path.join(TMP, 'o2', 'keep.json'), '{"good": 3}\n');
  const prior = tree(path.join(TMP, 'o2'));
  const r = cli('resize', '--input_dir', 'raw2', '--output_dir', 'o2', '--width', '64', '--height', '48');
  assert.notEqual(r.code, 0);
  assert.ok(r.err.includes(corrupt), r.err);
  const now = tree(path.join(TMP, 'o2'));
  for (const [k, h] of Object.entries(prior)) assert.equal(now[k], h, `${k} unchanged`);
  assert.ok(!fs.existsSync(path.join(TMP, 'o2', 'bad')), 'the failed video is not published');
  // only whole frames in the staging folder, no temporary files
  const staged = fs.readdirSync(path.join(TMP, 'o2', '.bad.partial'));
  assert.ok(staged.every((n) => /^\d{5}\.jpg$/.test(n)), staged.join());
  assert.ok(!staged.includes('00001.jpg'));
});

test('validate: a corrupt JPEG, a missing mask, an index that disagrees → exit 1 naming each file', () => {
  const ok = smallRoot('v-ok');
  const good = cli('validate', '--root', ok);
  assert.equal(good.code, 0, good.err);
  assert.match(good.out, /ok/);

  const a = smallRoot('v-jpeg');
  const jpg = path.join(a, 'JPEGImages_432_240', 'bmx-trees', '00003.jpg');
  fs.writeFileSync(jpg, fs.readFileSync(jpg).subarray(0, 2500));
  const prior = tree(a);
  const ra = cli('validate', '--root', a);
  assert.equal(ra.code, 1);
  assert.ok(ra.err.includes(`${jpg}: unreadable or corrupt image`), ra.err);
  assert.deepEqual(tree(a), prior, 'validation writes nothing');

  const b = smallRoot('v-mask');
  const png = path.join(b, 'test_masks', 'bmx-trees', '00005.png');
  fs.rmSync(png);
  const rb = cli('validate', '--root', b);
  assert.equal(rb.code, 1);
  assert.ok(rb.err.includes(`${png}: mask missing`), rb.err);
  assert.ok(rb.err.includes(`${path.join(b, 'test_masks', 'bmx-trees')}: has 11 masks but the video has 12 frames`), rb.err);

  const c = smallRoot('v-index');
  fs.writeFileSync(path.join(c, 'train.json'), JSON.stringify({ 'bmx-trees': 80, missing: 10 }));
  const rc = cli('validate', '--root', c);
  assert.equal(rc.code, 1);
  const train = path.join(c, 'train.json');
  assert.ok(rc.err.includes(`${path.join(c, 'JPEGImages_432_240', 'bmx-trees')}: has 12 frames but ${train} says 80`), rc.err);
  assert.ok(rc.err.includes(`${path.join(c, 'JPEGImages_432_240', 'missing')}: video folder not found`), rc.err);
  assert.match(rc.err, /2 problem\(s\)/);

  // a mask of the wrong size and an empty video
  const d = smallRoot('v-size');
  const small = path.join(d, 'test_masks', 'bmx-trees', '00002.png');
  fs.copyFileSync(path.join(ROOT, 'data', 'video-completion', 'mask_logo.png'), small);
  fs.mkdirSync(path.join(d, 'JPEGImages_432_240', 'empty'));
  const rd = cli('validate', '--root', d, '--quick');
  assert.equal(rd.code, 1);
  assert.ok(rd.err.includes(`${small}: mask is 1296x720`), rd.err);
  assert.ok(rd.err.includes(`${path.join(d, 'JPEGImages_432_240', 'empty')}: empty video`), rd.err);

  const missing = cli('validate', '--root', 'nowhere');
  assert.equal(missing.code, 1);
  assert.ok(missing.err.includes(path.join(TMP, 'nowhere')), missing.err);
});

test('index on a root with an empty video fails naming it and keeps the existing split file', () => {
  const r = smallRoot('ix-bad');
  fs.mkdirSync(path.join(r, 'JPEGImages_432_240', 'hollow'));
  const prior = fs.readFileSync(path.join(r, 'train.json'));
  const res = cli('index', '--root', r, '--split', 'train');
  assert.equal(res.code, 1);
  assert.ok(res.err.includes(`${path.join(r, 'JPEGImages_432_240', 'hollow')}: empty video`), res.err);
  assert.deepEqual(fs.readFileSync(path.join(r, 'train.json')), prior);
});
