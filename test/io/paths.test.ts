import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { isInside, resolveInside } from '../../lib/io/paths';

test('resolveInside: names below the root resolve; everything else is refused naming the entry', () => {
  const root = '/data/set';
  assert.equal(resolveInside(root, 'bmx-trees', 'f.json: video'), '/data/set/bmx-trees');
  assert.equal(resolveInside(root, 'a/b/../c', 'f.json: video'), '/data/set/a/c');
  assert.equal(resolveInside('/data/set/', './x', 'e'), '/data/set/x');
  const refused: Array<[unknown, RegExp]> = [
    ['../x', /^Error: f\.json: video "\.\.\/x" points outside \/data\/set$/],
    ['a/../../x', /points outside/],
    ['..', /points outside/],
    ['.', /points outside/],
    ['a/..', /points outside/],
    ['/data/set/x', /is an absolute path; names must be relative to \/data\/set$/],
    ['', /is not a valid name/],
    ['x\0y', /contains a NUL character/],
    [3, /is not a valid name/],
  ];
  for (const [name, re] of refused) assert.throws(() => resolveInside(root, name as string, 'f.json: video'), re, String(name));
});

test('resolveInside with real: a link out of the root is refused, links inside it are fine', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pp-paths-'));
  try {
    const root = path.join(tmp, 'root');
    fs.mkdirSync(root);
    fs.writeFileSync(path.join(tmp, 'secret'), 'x');
    fs.writeFileSync(path.join(root, 'a.png'), 'x');
    fs.symlinkSync(path.join(tmp, 'secret'), path.join(root, 'out.png'));
    fs.symlinkSync(path.join(root, 'a.png'), path.join(root, 'in.png'));
    assert.equal(resolveInside(root, 'out.png', 'idx: file'), path.join(root, 'out.png'), 'lexical check only by default');
    assert.throws(() => resolveInside(root, 'out.png', 'idx: file', { real: true }), new RegExp(`^Error: idx: file "out\\.png" is a link to ${tmp}/secret, outside ${root}$`));
    assert.equal(resolveInside(root, 'in.png', 'idx: file', { real: true }), path.join(root, 'in.png'));
    assert.equal(resolveInside(root, 'missing.png', 'idx: file', { real: true }), path.join(root, 'missing.png'));
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});

test('isInside', () => {
  assert.ok(isInside('/a/b', '/a/b'));
  assert.ok(isInside('/a/b', '/a/b/c/d'));
  assert.ok(isInside('a', 'a/../a/x'));
  assert.ok(!isInside('/a/b', '/a/bc'));
  assert.ok(!isInside('/a/b', '/a'));
  assert.ok(!isInside('/a/b', '/a/b/../c'));
});
