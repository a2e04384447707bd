/**
 * `propainter train`: the config file and `--set` overrides (training itself is phase 2 of #15).
 * Every row fails while parsing, before a backend starts or a run folder is made.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ROOT, HostileRow, lit, Sandbox } from '../harness';

const QUICK = path.join(ROOT, 'configs', 'quick_flowcomp.json');

/** The quick flow-completion config with `edit` applied, written to the sandbox. */
function config(s: Sandbox, edit: (text: string) => string): string {
  return s.write('cfg.json', edit(fs.readFileSync(QUICK, 'utf8')));
}

function train(name: string, args: (s: Sandbox) => string[], error: (s: Sandbox) => RegExp): HostileRow {
  return {
    command: 'train',
    name,
    args: (s) => ['train', ...args(s)],
    error,
    check: () => {
      // In this process: the override must not have reached Object.prototype.
      for (const k of ['polluted', 'x']) assert.equal(({} as Record<string, unknown>)[k], undefined, `Object.prototype.${k}`);
    },
  };
}

export const rows: HostileRow[] = [
  train('--set __proto__.polluted=1', () => ['-c', QUICK, '--set', '__proto__.polluted=1'], () => /^invalid config: --set __proto__\.polluted=1: '__proto__' is not a config key$/),
  train('--set train.__proto__.polluted=1', () => ['-c', QUICK, '--set', 'train.__proto__.polluted=1'], () => /'__proto__' is not a config key$/),
  train('--set constructor.prototype.x=1', () => ['-c', QUICK, '--set', 'constructor.prototype.x=1'], () => /^invalid config: --set constructor\.prototype\.x=1: 'constructor' is not a config key$/),
  train('--set train.toString=1 (an inherited name, not a key)', () => ['-c', QUICK, '--set', 'train.toString=1'], () => /^.*quick_flowcomp\.json: invalid config: train\.toString: unknown key \(allowed: /),
  train(
    'a config with a "__proto__" key',
    (s) => ['-c', config(s, (t) => t.replace('"train": {', '"train": {\n    "__proto__": { "polluted": 1 },'))],
    (s) => new RegExp(`^${lit(s.at('cfg.json'))}: invalid config: datasets\\.train\\.__proto__: unknown key`),
  ),
  train('a config that is not JSON', (s) => ['-c', s.write('cfg.json', '{"model": ')], (s) => new RegExp(`^${lit(s.at('cfg.json'))}: invalid config: cannot read JSON: Unexpected end of JSON input$`)),
  train('a config that is a folder', (s) => ['-c', s.mkdir('cfg.json')], (s) => new RegExp(`^${lit(s.at('cfg.json'))}: invalid config: cannot read JSON: EISDIR`)),
  train('a missing config', () => ['-c', 'nope.json'], () => /^nope\.json: invalid config: cannot read JSON: ENOENT/),
];
