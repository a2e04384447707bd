/**
 * The CLI's commands, one module each. This is the CLI's one lazy-load point (and the only
 * `require` of a project module in lib/): `main` loads just the module of the command being run —
 * all of them only for the top-level help — so `propainter doctor` does not load the training
 * stack. Everything else is imported statically. A new command is a module here plus one line.
 */
import type { CliCommand } from '../command';

const load = (m: { default: CliCommand }) => m.default;

export const COMMANDS: Readonly<Record<string, () => CliCommand>> = {
  analyze: () => load(require('./analyze')),
  'compute-flow': () => load(require('./compute-flow')),
  'dist-check': () => load(require('./dist-check')),
  doctor: () => load(require('./doctor')),
  evaluate: () => load(require('./evaluate')),
  'fixture-check': () => load(require('./fixture-check')),
  inpaint: () => load(require('./inpaint')),
  pipeline: () => load(require('./pipeline')),
  prepare: () => load(require('./prepare')),
  report: () => load(require('./report')),
  train: () => load(require('./train')),
  weights: () => load(require('./weights')),
};

/** The commands to configure for `argv`: the one named (also by `help NAME`), else all of them. */
export function commandsFor(argv: string[]): CliCommand[] {
  const words = argv.slice(2).filter((a) => !a.startsWith('-'));
  const name = words[0] === 'help' ? words[1] : words[0];
  return (name !== undefined && name in COMMANDS ? [name] : Object.keys(COMMANDS)).map((n) => COMMANDS[n]());
}
