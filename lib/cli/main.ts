/**
 * The `propainter` CLI: every file in ./commands exports a CliCommand.
 */
import * as fs from 'fs';
import * as path from 'path';
import { Command } from 'commander';
import type { CliCommand } from './command';

function loadCommands(): CliCommand[] {
  const dir = path.join(__dirname, 'commands');
  return fs
    .readdirSync(dir)
    .filter((f) => /\.(ts|js)$/.test(f) && !f.endsWith('.d.ts'))
    .sort()
    .map((f) => (require(path.join(dir, f)) as { default: CliCommand }).default)
    .filter((c) => c && typeof c.configure === 'function');
}

export async function main(argv: string[]): Promise<void> {
  const pkg = require('../../package.json') as { version: string };
  const program = new Command('propainter')
    .description('ProPainter video inpainting: data preparation, training, evaluation, inference, reports')
    .version(pkg.version)
    .showHelpAfterError();
  for (const c of loadCommands()) c.configure(program.command(c.name).description(c.description));
  try {
    await program.parseAsync(argv);
  } catch (e) {
    const err = e as Error & { exitCode?: number };
    if (err.name === 'UserError') console.error(`error: ${err.message}`);
    else console.error(err.stack ?? String(err));
    process.exitCode = err.exitCode ?? 1;
  }
}
