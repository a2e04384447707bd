import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { FIXTURES, ROOT } from './helpers';

const notebooks = fs
  .readdirSync(path.join(ROOT, 'notebooks'))
  .filter((f) => f.endsWith('.ipynb'))
  .map((f) => path.join(ROOT, 'notebooks', f));

test('committed notebooks have no outputs (npm run notebooks -- --check-clean)', () => {
  const r = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'notebooks.mjs'), '--check-clean', ...notebooks, path.join(FIXTURES, 'failing.ipynb'), path.join(FIXTURES, 'viz-smoke.ipynb')], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
});

test('committed notebooks use the repository tslab kernel and read quick mode', () => {
  assert.ok(notebooks.length >= 1);
  for (const file of notebooks) {
    const nb = JSON.parse(fs.readFileSync(file, 'utf8'));
    assert.equal(nb.metadata.kernelspec.name, 'tslab', `${file}: kernelspec`);
    const code = nb.cells.filter((c: { cell_type: string }) => c.cell_type === 'code').map((c: { source: string[] | string }) => [c.source].flat().join('')).join('\n');
    assert.match(code, /isQuick\(\)|quick\(/, `${file}: quick mode (PROPAINTER_QUICK) is not read`);
    assert.doesNotMatch(code, /from '\.\.\/lib/, `${file}: imports must be repository-relative ('./lib/...'): the kernel starts in the repository root`);
  }
});

test('--clear strips outputs in place and keeps the rest', () => {
  const tmp = path.join(fs.mkdtempSync(path.join(require('node:os').tmpdir(), 'nb-clear-')), 'x.ipynb');
  const nb = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'failing.ipynb'), 'utf8'));
  nb.cells[1].outputs = [{ output_type: 'stream', name: 'stdout', text: ['42\n'] }];
  nb.cells[1].execution_count = 3;
  nb.cells[1].metadata.execution = { 'iopub.status.busy': '2026-01-01T00:00:00Z' };
  fs.writeFileSync(tmp, JSON.stringify(nb));
  const r = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'notebooks.mjs'), '--clear', tmp], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(fs.readFileSync(tmp, 'utf8'), fs.readFileSync(path.join(FIXTURES, 'failing.ipynb'), 'utf8'));
  fs.rmSync(path.dirname(tmp), { recursive: true, force: true });
});
