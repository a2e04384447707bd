/**
 * SIGINT / SIGTERM in a training process (the CLI's): the first signal asks the run to stop at
 * the end of the current iteration; the checkpoint callback then writes a final checkpoint, and
 * the process exits with 128 + the signal's number (130 for SIGINT, 143 for SIGTERM), as a shell
 * reports a process the signal ended. A second signal ends the process at once, even in the
 * middle of a step.
 *
 * Why the kernel's help is needed for the second signal: a training step is synchronous and
 * blocks the event loop, so no JavaScript handler runs before it ends — not the first signal's,
 * not the second's. Node's C handler only queues them. So the handler Node installs is made
 * one-shot (SA_RESETHAND): as the first signal is delivered the kernel restores the default
 * action, and a second signal of the same kind terminates the process where it is. The
 * checkpoints on disk stay valid (every file is written atomically, latest.json last); temporary
 * files of a save cut short are removed at the next start.
 */
import * as os from 'os';
import type { Callback, StopReason } from './callback';
import type { Run } from '../loop';

const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM'];

// Linux struct sigaction (glibc and musl, x86-64 and arm64): handler (8 bytes), sa_mask (128 bytes), int sa_flags, sa_restorer.
const SA_FLAGS_OFFSET = 136;
const SA_RESETHAND = 0x80000000;
type SigactionFn = (signum: number, act: Buffer | null, old: Buffer | null) => number;
let sigaction: SigactionFn | null | undefined;

/**
 * Makes the handler currently installed for `signum` one-shot in the kernel (SA_RESETHAND).
 * False where that cannot be done (not Linux x86-64 / arm64, koffi unavailable, no handler).
 */
function resetOnDelivery(signum: number): boolean {
  if (sigaction === undefined) {
    sigaction = null;
    if (process.platform === 'linux' && (process.arch === 'x64' || process.arch === 'arm64')) {
      try {
        const koffi = require('koffi') as typeof import('koffi');
        sigaction = koffi.load(null).func('int sigaction(int, const void *, void *)') as unknown as SigactionFn;
      } catch {
        sigaction = null;
      }
    }
  }
  if (!sigaction) return false;
  const act = Buffer.alloc(256); // > sizeof(struct sigaction) = 152
  if (sigaction(signum, null, act) !== 0) return false;
  if (act.readBigUInt64LE(0) <= 1n) return false; // SIG_DFL / SIG_IGN: no handler to make one-shot
  act.writeUInt32LE((act.readUInt32LE(SA_FLAGS_OFFSET) | SA_RESETHAND) >>> 0, SA_FLAGS_OFFSET);
  return sigaction(signum, act, null) === 0;
}

export class StopOnSignal implements Callback {
  /** The signal that stopped the run, if one did. */
  received: NodeJS.Signals | null = null;
  private handler: ((sig: NodeJS.Signals) => void) | null = null;

  constructor(private readonly log: (line: string) => void = (l) => console.error(l)) {}

  onTrainStart(run: Run): void {
    if (this.handler) return;
    this.handler = (sig) => {
      if (this.received) {
        // A different signal than the first, or a kernel that could not reset the handler.
        this.log(`${sig} again: exiting without waiting`);
        this.release();
        process.kill(process.pid, sig);
        process.exit(128 + os.constants.signals[sig]); // if another listener kept the signal from ending the process
      }
      this.received = sig;
      this.log(`${sig}: stopping after the current iteration (a final checkpoint will be written; ${sig} again aborts at once)`);
      run.stop();
    };
    for (const s of SIGNALS) {
      process.on(s, this.handler);
      resetOnDelivery(os.constants.signals[s]);
    }
  }

  onTrainEnd(_run: Run, reason: StopReason): void {
    this.release();
    if (reason === 'interrupted' && this.received) process.exitCode = 128 + os.constants.signals[this.received];
  }

  private release(): void {
    if (!this.handler) return;
    for (const s of SIGNALS) process.off(s, this.handler);
    this.handler = null;
  }
}
