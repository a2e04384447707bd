/**
 * Sample images as PNG files for reports and people without TensorBoard:
 * `<save_dir>/samples/<iteration>_<tag>.png`, listed in `<save_dir>/samples/samples.jsonl`
 * ({iteration, tag, file, phase: train | val}, appended, survives resumes; a run restarted from
 * an earlier iteration drops the later entries). Training images come every image_freq
 * iterations, validation images with every validation.
 */
import * as fs from 'fs';
import * as path from 'path';
import type { Callback } from './callback';
import type { Run, StepRecord, ValidationRecord } from '../loop';
import { encodePng, RgbImage } from '../../viz/image';
import { writeFileAtomic, writeFileAtomicAsync } from '../../io/atomic';
import { SAMPLES_DIR, SAMPLES_INDEX, pad6 } from '../run-folder';

export interface SampleEntry {
  iteration: number;
  tag: string;
  /** Relative to the samples folder. */
  file: string;
  phase: 'train' | 'val';
}

/** A tag as a file-name part: `img/img:inp-gt-res-0` → `img-img-inp-gt-res-0`. */
export function tagFileName(tag: string): string {
  return tag.replace(/[^A-Za-z0-9_.-]+/g, '-').replace(/^-+|-+$/g, '');
}

export class SampleImages implements Callback {
  private dir = '';
  private pending: Promise<void> = Promise.resolve();

  /** Drops index entries beyond the starting iteration: they belong to a run this one replaces. */
  onTrainStart(run: Run): void {
    this.dir = path.join(run.config.save_dir, SAMPLES_DIR);
    fs.mkdirSync(this.dir, { recursive: true });
    const index = path.join(this.dir, SAMPLES_INDEX);
    if (!fs.existsSync(index)) return;
    const kept = readIndexLines(index).filter((e) => e.iteration <= run.iteration);
    writeFileAtomic(index, kept.map((e) => JSON.stringify(e) + '\n').join(''));
  }

  /** Resolves once the images are on disk (so a notebook can read them right after a step). */
  onStepEnd(_run: Run, rec: StepRecord, images?: Record<string, RgbImage>): Promise<void> | void {
    if (images) return this.write(images, rec.iteration, 'train');
  }

  onValidationEnd(_run: Run, rec: ValidationRecord, images?: Record<string, RgbImage>): Promise<void> | void {
    if (images) return this.write(images, rec.iteration, 'val');
  }

  private write(images: Record<string, RgbImage>, iteration: number, phase: SampleEntry['phase']): Promise<void> {
    const dir = this.dir;
    for (const [tag, img] of Object.entries(images)) {
      const entry: SampleEntry = { iteration, tag, file: `${pad6(iteration)}_${tagFileName(tag)}.png`, phase };
      // The index line is appended only once its image is complete on disk.
      this.pending = this.pending.then(async () => {
        await writeFileAtomicAsync(path.join(dir, entry.file), await encodePng(img));
        fs.appendFileSync(path.join(dir, SAMPLES_INDEX), JSON.stringify(entry) + '\n');
      });
    }
    return this.pending;
  }
}

/** The index's entries in file order (a line cut by a crash is skipped). */
function readIndexLines(file: string): SampleEntry[] {
  const out: SampleEntry[] = [];
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    try {
      out.push(JSON.parse(line) as SampleEntry);
    } catch {
      // cut by a crash
    }
  }
  return out;
}

/** The sample images a run wrote (later entries for the same iteration and tag win). */
export function readSampleIndex(saveDir: string): SampleEntry[] {
  const file = path.join(saveDir, SAMPLES_DIR, SAMPLES_INDEX);
  if (!fs.existsSync(file)) return [];
  const byKey = new Map<string, SampleEntry>();
  for (const e of readIndexLines(file)) {
    if (fs.existsSync(path.join(saveDir, SAMPLES_DIR, e.file))) byKey.set(`${e.phase}|${e.iteration}|${e.tag}`, e);
  }
  return [...byKey.values()].sort((a, b) => a.iteration - b.iteration);
}
