/**
 * The `propainter` CLI: the commands of ./commands/index.ts, of which only the one being run is
 * loaded.
 */
import { Command } from 'commander';
import { commandsFor } from './commands';
import pkg from '../../package.json';

export async function main(argv: string[]): Promise<void> {
  const program = new Command('propainter')
    .description('ProPainter video inpainting: data preparation, training, evaluation, inference, reports')
    .version(pkg.version)
    .showHelpAfterError();
  for (const c of commandsFor(argv)) c.configure(program.command(c.name).description(c.description));
  try {
    await program.parseAsync(argv);
  } catch (e) {
    const err = e as Error & { exitCode?: number };
    if (err.name === 'UserError') console.error(`error: ${err.message}`);
    else console.error(err.stack ?? String(err));
    process.exitCode = err.exitCode ?? 1;
  }
}
