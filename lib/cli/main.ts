/**
 * The `propainter` CLI: the commands of ./commands/index.ts, of which only the one being run is
 * loaded.
 *
 * Errors end as one `error: …` line on stderr and a non-zero exit code; the stack trace is
 * printed only with the global `--debug` flag (before or after the command name).
 */
import { Command, CommanderError } from 'commander';
import { commandsFor } from './commands';
import pkg from '../../package.json';

/**
 * The text printed after `error: `. A UserError's message is its whole story (lists of problems
 * stay lists); anything else is collapsed to one line. A header with a single item
 * (`invalid config:\n  train.lr: …`) reads better on one line either way.
 */
export function errorText(e: unknown): string {
  const err = e instanceof Error ? e : new Error(String(e));
  const lines = err.message.split('\n').map((l) => l.trim()).filter((l) => l.length > 0);
  if (lines.length === 0) return err.name || 'unknown error';
  if (lines.length === 2 && lines[0].endsWith(':')) return `${lines[0]} ${lines[1]}`;
  return err.name === 'UserError' ? err.message : lines.join(' ');
}

export async function main(argv: string[]): Promise<void> {
  const program = new Command('propainter')
    .description('ProPainter video inpainting: data preparation, training, evaluation, inference, reports')
    .version(pkg.version)
    .option('--debug', 'print the stack trace of an error')
    .showHelpAfterError()
    // Commander errors (unknown option, --help) are thrown here instead of exiting the process,
    // so main is the one place that decides the exit code (and can be called in-process by tests).
    .exitOverride();
  for (const c of commandsFor(argv)) c.configure(program.command(c.name).description(c.description));
  try {
    await program.parseAsync(argv);
  } catch (e) {
    if (e instanceof CommanderError) {
      // Commander has printed its message (and the help, if asked for) already.
      process.exitCode = e.exitCode;
      return;
    }
    const err = e as Error & { exitCode?: number };
    console.error(`error: ${errorText(e)}`);
    if (program.opts().debug && err instanceof Error && err.stack) console.error(err.stack);
    process.exitCode = err.exitCode ?? 1;
  }
}
