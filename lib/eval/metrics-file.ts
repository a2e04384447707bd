/**
 * The text files the official evaluation scripts write, byte for byte (so tools that parse them keep
 * working), and per_video.csv.
 *
 * `<dataset>_metrics.txt` of scripts/evaluate_propainter.py, one line per video then a final line
 * without a newline (the per-video line carries 21 spaces from a backslash continuation inside
 * the f-string):
 *   [  1/3] Name: bmx-a                     | PSNR/SSIM: 22.6821/0.8944                     | Avg PSNR/SSIM: 22.6821/0.8944 | Time: 5.9824
 *   Finish evaluation... Average Frame PSNR/SSIM/VFID: 25.27/0.9337/0.000 | Time: 5.2655
 * and of scripts/evaluate_flow_completion.py, which prints the DataLoader's list of names
 * (`['bmx-a']`) and ends with a newline:
 *   [  1/3] Name: ['bmx-a']                 | EPE: 0.1234 | Time: 0.5678
 *   Finish evaluation... Average Frame EPE: 0.1234 | | Time: 0.5678
 */
import { pyFixed, pyLeft, pyRight } from './pyformat';
import type { VideoRecord, VideoRow } from './results';

const f = pyFixed;
const sum = (v: readonly number[]) => v.reduce((a, b) => a + b, 0);
const mean = (v: readonly number[]) => sum(v) / v.length;

/** Python's repr of a str (the quote it picks and the escapes of a plain name). */
function pyRepr(s: string): string {
  const q = s.includes("'") && !s.includes('"') ? '"' : "'";
  return q + s.replace(/\\/g, '\\\\').replace(new RegExp(q, 'g'), `\\${q}`) + q;
}

/**
 * evaluate_propainter.py's metrics file for `records` (dataset order, each with psnr/ssim),
 * `total` videos in the dataset; with `vfid` given (null prints as Python's nan) the final line
 * is appended.
 */
export function propainterMetricsText(records: readonly VideoRecord[], total: number, final?: { vfid: number | null }): string {
  const allPsnr: number[] = [];
  const allSsim: number[] = [];
  const times: number[] = [];
  let out = '';
  records.forEach((r, i) => {
    // Frames below SSIM's window have none: nan (the official script would have stopped).
    const ssims = r.ssim ?? r.psnr!.map(() => NaN);
    allPsnr.push(...r.psnr!);
    allSsim.push(...ssims);
    times.push(r.seconds_per_frame);
    out +=
      `[${pyRight(i + 1, 3)}/${total}] Name: ${pyLeft(r.video, 25)} | PSNR/SSIM: ${f(mean(r.psnr!), 4)}/${f(mean(ssims), 4)}` +
      `${' '.repeat(21)}| Avg PSNR/SSIM: ${f(mean(allPsnr), 4)}/${f(mean(allSsim), 4)} | Time: ${f(mean(times), 4)}\n`;
  });
  if (final) {
    out +=
      `Finish evaluation... Average Frame PSNR/SSIM/VFID: ${f(mean(allPsnr), 2)}/${f(mean(allSsim), 4)}/${f(final.vfid ?? NaN, 3)}` +
      ` | Time: ${f(mean(times), 4)}`;
  }
  return out;
}

/** The lines evaluate_propainter.py prints for object_removal (it writes no metrics file). */
export function objectRemovalLines(records: readonly VideoRecord[], total: number): string {
  const times: number[] = [];
  return records
    .map((r, i) => {
      times.push(r.seconds_per_frame);
      return `[${pyRight(i + 1, 3)}/${total}] Name: ${pyLeft(r.video, 25)} | Time: ${f(mean(times), 4)}\n`;
    })
    .join('');
}

/** evaluate_flow_completion.py's metrics file; `final` appends the average line. */
export function flowMetricsText(records: readonly VideoRecord[], total: number, final = false): string {
  const epes: number[] = [];
  const times: number[] = [];
  let out = '';
  records.forEach((r, i) => {
    const n = r.frames - 1;
    for (let k = 0; k < n; k++) epes.push(r.epe_forward!);
    for (let k = 0; k < n; k++) epes.push(r.epe_backward!);
    for (let k = 0; k < r.frames; k++) times.push(r.seconds_per_frame);
    const cur = (r.epe_forward! + r.epe_backward!) / 2;
    out += `[${pyRight(i + 1, 3)}/${total}] Name: ${pyLeft(`[${pyRepr(r.video)}]`, 25)} | EPE: ${f(cur, 4)} | Time: ${f(mean(times), 4)}\n`;
  });
  if (final) out += `Finish evaluation... Average Frame EPE: ${f(mean(epes), 4)} | | Time: ${f(mean(times), 4)}\n`;
  return out;
}

const CSV_COLUMNS = ['video', 'index', 'frames', 'height', 'width', 'mask_area', 'psnr', 'ssim', 'lpips', 'ewarp', 'epe', 'epe_forward', 'epe_backward', 'seconds_per_frame'];

function csvCell(v: number | string | undefined): string {
  if (v === undefined) return '';
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : Number.isNaN(v) ? 'nan' : v > 0 ? 'inf' : '-inf';
  return /[",\n\r]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

/** per_video.csv: one row per video, the columns any row has (in a fixed order), full precision. */
export function perVideoCsv(rows: readonly VideoRow[]): string {
  const cols = CSV_COLUMNS.filter((c) => rows.some((r) => r[c] !== undefined));
  return [cols.join(','), ...rows.map((r) => cols.map((c) => csvCell(r[c])).join(','))].join('\n') + '\n';
}
