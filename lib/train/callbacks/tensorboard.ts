/**
 * TensorBoard event files under <save_dir>/tb: every scalar averaged over log_freq iterations
 * (as the official add_summary), lr, it/s, validation metrics, and sample images (PNG) every
 * image_freq iterations. Read with `tensorboard --logdir experiments`.
 */
import * as path from 'path';
import type { Callback } from './callback';
import type { Run, StepRecord, ValidationRecord } from '../loop';
import { SummaryWriter } from '../tensorboard';
import { TENSORBOARD_DIR } from '../run-folder';
import { encodePng, RgbImage } from '../../viz/image';

export class TensorBoardLogger implements Callback {
  readonly key = 'tensorboard';
  writer: SummaryWriter | null = null;
  private sums: Record<string, number> = {};
  private count = 0;
  private pending: Promise<void> = Promise.resolve();

  constructor(private readonly logdir?: string) {}

  onTrainStart(run: Run): void {
    this.writer = new SummaryWriter(this.logdir ?? path.join(run.config.save_dir, TENSORBOARD_DIR));
    if (run.iteration === 0) this.writer.text('config', '```\n' + JSON.stringify(run.config, null, 2) + '\n```', 0);
  }

  onStepEnd(run: Run, rec: StepRecord, images?: Record<string, RgbImage>): void {
    const w = this.writer;
    if (!w) return;
    for (const [k, v] of Object.entries(rec.scalars)) this.sums[k] = (this.sums[k] ?? 0) + v;
    this.count++;
    if (rec.iteration % run.config.train.log_freq === 0) {
      for (const [k, v] of Object.entries(this.sums)) w.scalar(k, v / this.count, rec.iteration);
      w.scalar('train/lr', rec.lr, rec.iteration);
      w.scalar('train/it_per_s', rec.itPerSec, rec.iteration);
      this.sums = {};
      this.count = 0;
    }
    if (images) this.images(images, rec.iteration);
  }

  onValidationEnd(_run: Run, rec: ValidationRecord, images?: Record<string, RgbImage>): void {
    for (const [k, v] of Object.entries(rec.metrics)) this.writer?.scalar(`val/${k}`, v, rec.iteration);
    if (images) this.images(images, rec.iteration);
  }

  private images(images: Record<string, RgbImage>, it: number): void {
    // PNG encoding is asynchronous (sharp); records are appended in order as they complete.
    for (const [tag, img] of Object.entries(images)) {
      this.pending = this.pending.then(async () => {
        const png = await encodePng(img);
        this.writer?.image(tag, png, img.height, img.width, it);
      });
    }
  }

  async onSave(): Promise<void> {
    await this.pending;
    this.writer?.flush();
  }

  async onTrainEnd(): Promise<void> {
    await this.pending;
    this.writer?.close();
    this.writer = null;
  }

  state(): unknown {
    return { sums: this.sums, count: this.count };
  }

  loadState(s: unknown): void {
    const st = s as { sums?: Record<string, number>; count?: number } | undefined;
    this.sums = { ...(st?.sums ?? {}) };
    this.count = st?.count ?? 0;
  }
}
