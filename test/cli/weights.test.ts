/** `propainter weights`: inspect identifies official checkpoints, convert keeps keys and values both ways. */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { useBackend } from '../../lib/runtime';
import { RAFT } from '../../lib/models/raft';
import { applyDetInit } from '../../lib/init/apply';
import { writePth } from '../../lib/io/pth';
import { loadCheckpoint } from '../../lib/io/checkpoint';
import { toFloat32 } from '../../lib/io/host-tensor';
import { convertCheckpoint, formatInspection, inspectCheckpoint } from '../../lib/cli/commands/weights';

test('weights inspect / convert on a raft-things.pth-shaped file', async () => {
  await useBackend('cpu');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pp-weights-'));
  try {
    const raft = new RAFT();
    applyDetInit(raft);
    const dict = new Map([...raft.stateDict()].map(([k, v]) => [`module.${k}`, v]));
    raft.dispose();
    const pth = path.join(dir, 'raft-things.pth');
    writePth(pth, dict);

    const r = inspectCheckpoint(pth);
    assert.equal(r.format, 'pth-zip');
    assert.equal(r.model, 'RAFT (raft-things.pth)');
    assert.equal(r.modulePrefix, true);
    // Every floating-point value: the 5,257,536 parameters plus the BatchNorm running statistics.
    assert.equal(r.parameters, [...dict.values()].filter((t) => t.dtype === 'float32').reduce((a, t) => a + t.shape.reduce((x, y) => x * y, 1), 0));
    assert.ok(r.parameters > 5_257_536 && r.parameters < 5_257_536 + 10_000);
    assert.equal(r.tensors, dict.size);
    const text = formatInspection(r, false);
    assert.match(text, /keys carry the DataParallel 'module\.' prefix/);
    assert.match(text, /module\.fnet +/);

    const st = path.join(dir, 'raft.safetensors');
    convertCheckpoint(pth, st);
    const back = path.join(dir, 'back.pth');
    convertCheckpoint(st, back);
    for (const f of [st, back]) {
      const d = loadCheckpoint(f, { stripModulePrefix: false });
      assert.deepEqual([...d.keys()], [...dict.keys()], f);
      for (const [k, v] of dict) {
        const got = d.get(k)!;
        assert.equal(got.dtype, v.dtype, `${f} ${k}`);
        assert.deepEqual(got.shape, v.shape, `${f} ${k}`);
        if (v.dtype === 'float32') assert.deepEqual(toFloat32(got), toFloat32(v), `${f} ${k}`);
      }
    }
    assert.throws(() => convertCheckpoint(pth, path.join(dir, 'x.bin')), /must end in \.pth, \.pt or \.safetensors/);
    assert.throws(() => inspectCheckpoint(path.join(dir, 'nope.pth')), /checkpoint not found/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
