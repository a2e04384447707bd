/**
 * The progress line: iteration, losses, lr, it/s, ETA. On a terminal (or in a notebook, where
 * `\r` output is folded to its last state) it is redrawn every step and kept every log_freq
 * steps; in logs (no TTY) a line is printed every log_freq steps. Validation and checkpoint
 * events get their own lines.
 */
import type { Callback, StopReason } from './callback';
import type { Run, StepRecord, ValidationRecord } from '../loop';

export function formatEta(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '–';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

const short = (k: string) => k.replace(/^loss\//, '').replace(/_loss$/, '');
const num = (v: number) => (Math.abs(v) >= 1e-3 && Math.abs(v) < 1e4 ? v.toFixed(4) : v.toExponential(2));

export interface ConsoleOptions {
  stream?: NodeJS.WritableStream & { isTTY?: boolean };
  /** Redraw in place every step (default: on a TTY or in a notebook kernel). */
  live?: boolean;
}

export class ConsoleProgress implements Callback {
  private readonly stream: NodeJS.WritableStream & { isTTY?: boolean };
  private readonly live: boolean;
  private secPerIt = NaN;
  private open = false;

  constructor(opts: ConsoleOptions = {}) {
    this.stream = opts.stream ?? process.stdout;
    this.live = opts.live ?? (!!this.stream.isTTY || !!process.env.JPY_PARENT_PID);
  }

  private line(text: string): void {
    this.stream.write((this.open ? '\n' : '') + text + '\n');
    this.open = false;
  }

  onTrainStart(run: Run): void {
    this.line(`training ${run.config.name} (${run.config.model}) on ${run.backend}${run.comm ? ` × ${run.comm.size} processes (total batch ${run.config.train.batch_size})` : ''} from iteration ${run.iteration} to ${run.config.train.total_iter}; outputs in ${run.config.save_dir}`);
  }

  onStepEnd(run: Run, rec: StepRecord): void {
    const s = 1 / rec.itPerSec;
    this.secPerIt = Number.isNaN(this.secPerIt) ? s : 0.9 * this.secPerIt + 0.1 * s;
    const total = run.config.train.total_iter;
    const losses = Object.entries(rec.scalars).map(([k, v]) => `${short(k)} ${num(v)}`).join(' ');
    const text =
      `[${rec.iteration}/${total}] ${losses} | lr ${rec.lr.toExponential(2)} | ${(1 / this.secPerIt).toFixed(2)} it/s | ` +
      `ETA ${formatEta((total - rec.iteration) * this.secPerIt)}`;
    const keep = rec.iteration % run.config.train.log_freq === 0 || rec.iteration === total;
    if (this.live) {
      this.stream.write(`\r${text}\x1b[K`);
      this.open = true;
      if (keep) {
        this.stream.write('\n');
        this.open = false;
      }
    } else if (keep) this.line(text);
  }

  onValidationEnd(_run: Run, rec: ValidationRecord): void {
    this.line(`[${rec.iteration}] validation: ${Object.entries(rec.metrics).map(([k, v]) => `${k} ${num(v)}`).join(', ')}`);
  }

  onSave(_run: Run, statePath: string): void {
    this.line(`checkpoint: ${statePath}`);
  }

  onTrainEnd(run: Run, reason: StopReason): void {
    this.line(`training ${reason} at iteration ${run.iteration}`);
  }
}
