import type { Command } from 'commander';

/**
 * One CLI command per file in lib/cli/commands/. `configure` adds options (and subcommands)
 * and the action; the action may throw — main prints the message and exits non-zero.
 */
export interface CliCommand {
  name: string;
  description: string;
  configure(cmd: Command): void;
}

/** An error whose message is the whole story (no stack trace printed). */
export class UserError extends Error {
  constructor(message: string, readonly exitCode = 1) {
    super(message);
    this.name = 'UserError';
  }
}

/** Commander accumulator for repeatable options (`--set a=1 --set b=2`). */
export const collect = (v: string, prev: string[]): string[] => [...prev, v];

/** Commander parser of an integer option ≥ `min`; a bad value is a UserError naming the option. */
export function intOption(name: string, min = 1): (v: string) => number {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new UserError(`--${name} must be an integer ≥ ${min} (got '${v}')`);
    return n;
  };
}

/** Commander parser of an option restricted to `values`; anything else is a UserError listing them. */
export function choiceOption<T extends string>(name: string, values: readonly T[]): (v: string) => T {
  return (v: string): T => {
    if (!values.includes(v as T)) throw new UserError(`--${name} must be one of ${values.join(', ')} (got '${v}')`);
    return v as T;
  };
}
