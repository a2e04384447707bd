/**
 * Masks: the official random training-mask generator (`create_random_shape_with_random_motion`,
 * spec §11.4), mask dilation (§11.5, §15) and conversions.
 *
 * The generator keeps every random parameter and its distribution:
 *   region size H∈[H//3, H−1], W∈[W//3, W−1]; edge_num ∈ {6,7,8}; ratio ∈ {0.6,0.7,0.8};
 *   3·edge_num+1 control points on the unit circle with radii 1−ratio+2·ratio·U[0,1), closed
 *   cubic-Bézier path; top-left position uniform; speed U(1,3] (the NumPy `uniform(3)` quirk),
 *   angle U[0,2π); static with p = 0.5, otherwise per frame: move by trunc(speed·cos/sin),
 *   speed += N(0,1.5), angle += N(0,0.25), re-draw speed = |N(0,1.5)|, angle = U[0,2π) when the
 *   unclipped position leaves the frame, then clip.
 * Rasterisation is our own: the path is mapped exactly as Matplotlib lays it out (640×480 figure,
 * default subplot box, both axes [1.1·min, 1.1·max]) and scaled to the region size; pixels whose
 * centre is inside the path (non-zero winding) are holes. Matplotlib's 2-pt outline and
 * antialiasing change the edge by well under one pixel at these sizes. The bounding-box crop keeps
 * the official exclusive right/bottom bound (last hole row and column trimmed).
 * One `Rng` replaces Python's `random` and NumPy's global generator.
 */
import { Rng } from './rng';

/** A binary region cut from the rendered shape: 255 = hole. */
export interface MaskRegion {
  width: number;
  height: number;
  data: Uint8Array;
}

/** A whole mask video in compact form: one region and its top-left corner per frame. */
export interface MaskSequence {
  width: number; // frame width
  height: number; // frame height
  length: number;
  region: MaskRegion;
  /** Row (x in the official code) and column (y) of the region's top-left corner, per frame. */
  rows: Int32Array;
  cols: Int32Array;
  moving: boolean;
}

// Matplotlib defaults: figure 6.4×4.8 in at 100 dpi; subplot(111) box left .125, right .9,
// bottom .11, top .88 of the figure.
const FIG_W = 640;
const FIG_H = 480;
const AX_X0 = 0.125 * FIG_W;
const AX_W = (0.9 - 0.125) * FIG_W;
const AX_Y0 = 0.11 * FIG_H;
const AX_H = (0.88 - 0.11) * FIG_H;
const BEZIER_STEPS = 24;

/** Fills a closed polygon (non-zero winding) at pixel centres into a width×height 0/255 image. */
export function fillPolygon(xs: ArrayLike<number>, ys: ArrayLike<number>, width: number, height: number): Uint8Array {
  const out = new Uint8Array(width * height);
  const n = xs.length;
  const cross: { x: number; w: number }[] = [];
  for (let row = 0; row < height; row++) {
    const yc = row + 0.5;
    cross.length = 0;
    for (let i = 0; i < n; i++) {
      const j = (i + 1) % n;
      const y0 = ys[i];
      const y1 = ys[j];
      if (y0 === y1) continue;
      // half-open rule so shared vertices count once
      const up = y0 <= yc && y1 > yc;
      const down = y1 <= yc && y0 > yc;
      if (!up && !down) continue;
      const t = (yc - y0) / (y1 - y0);
      cross.push({ x: xs[i] + t * (xs[j] - xs[i]), w: up ? 1 : -1 });
    }
    if (cross.length < 2) continue;
    cross.sort((a, b) => a.x - b.x);
    let wind = 0;
    for (let k = 0; k < cross.length - 1; k++) {
      wind += cross[k].w;
      if (wind === 0) continue;
      const c0 = Math.max(0, Math.ceil(cross[k].x - 0.5));
      const c1 = Math.min(width, Math.ceil(cross[k + 1].x - 0.5));
      for (let c = c0; c < c1; c++) out[row * width + c] = 255;
    }
  }
  return out;
}

/**
 * `get_random_shape(edge_num, ratio, width, height)`: a random closed Bézier blob drawn at
 * width×height and cropped to its hole bounding box (exclusive right/bottom bound).
 */
export function randomShape(rng: Rng, edgeNum: number, ratio: number, width: number, height: number): MaskRegion {
  const n = edgeNum * 3 + 1;
  const vx = new Float64Array(n);
  const vy = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const angle = (2 * Math.PI * i) / (n - 1); // linspace(0, 2π, n), endpoint included
    const r = 2 * ratio * rng.random() + 1 - ratio;
    vx[i] = Math.cos(angle) * r;
    vy[i] = Math.sin(angle) * r;
  }
  vx[n - 1] = vx[0];
  vy[n - 1] = vy[0];
  let mn = Infinity;
  let mx = -Infinity;
  for (let i = 0; i < n; i++) {
    mn = Math.min(mn, vx[i], vy[i]);
    mx = Math.max(mx, vx[i], vy[i]);
  }
  const lo = 1.1 * mn;
  const hi = 1.1 * mx;
  // data → figure pixels (origin top-left) → resized canvas of width×height
  const px = (x: number) => ((AX_X0 + ((x - lo) / (hi - lo)) * AX_W) * width) / FIG_W;
  const py = (y: number) => ((FIG_H - (AX_Y0 + ((y - lo) / (hi - lo)) * AX_H)) * height) / FIG_H;
  const xs: number[] = [];
  const ys: number[] = [];
  for (let s = 0; s + 3 < n; s += 3) {
    for (let k = 0; k < BEZIER_STEPS; k++) {
      const t = k / BEZIER_STEPS;
      const u = 1 - t;
      const b0 = u * u * u;
      const b1 = 3 * u * u * t;
      const b2 = 3 * u * t * t;
      const b3 = t * t * t;
      xs.push(px(b0 * vx[s] + b1 * vx[s + 1] + b2 * vx[s + 2] + b3 * vx[s + 3]));
      ys.push(py(b0 * vy[s] + b1 * vy[s + 1] + b2 * vy[s + 2] + b3 * vy[s + 3]));
    }
  }
  const full = fillPolygon(xs, ys, width, height);
  let rmin = height;
  let rmax = -1;
  let cmin = width;
  let cmax = -1;
  for (let r = 0; r < height; r++) {
    for (let c = 0; c < width; c++) {
      if (full[r * width + c]) {
        if (r < rmin) rmin = r;
        if (r > rmax) rmax = r;
        if (c < cmin) cmin = c;
        if (c > cmax) cmax = c;
      }
    }
  }
  if (rmax < 0) throw new Error(`randomShape: empty shape at ${width}x${height}`);
  // [QUIRK] PIL crop((ymin, xmin, ymax, xmax)) excludes the last hole row and column.
  const rh = Math.max(1, rmax - rmin);
  const rw = Math.max(1, cmax - cmin);
  const data = new Uint8Array(rh * rw);
  for (let r = 0; r < rh; r++) {
    for (let c = 0; c < rw; c++) data[r * rw + c] = full[(r + rmin) * width + c + cmin];
  }
  return { width: rw, height: rh, data };
}

/** The random draws of `create_random_shape_with_random_motion`, without rendering frames. */
export function randomMaskSequence(rng: Rng, length: number, height = 240, width = 432): MaskSequence {
  if (length < 1) throw new Error(`randomMaskSequence: length ${length} < 1`);
  if (height < 3 || width < 3) throw new Error(`randomMaskSequence: frame ${width}x${height} too small`);
  const regionH = rng.randint(Math.floor(height / 3), height - 1);
  const regionW = rng.randint(Math.floor(width / 3), width - 1);
  const edgeNum = rng.randint(6, 8);
  const ratio = rng.randint(6, 8) / 10;
  const region = randomShape(rng, edgeNum, ratio, regionW, regionH);
  const maxRow = height - region.height;
  const maxCol = width - region.width;
  let x = rng.randint(0, maxRow);
  let y = rng.randint(0, maxCol);
  // [QUIRK] np.random.uniform(3) = uniform(low=3, high=1): speed in (1, 3]
  let speed = rng.uniform(3, 1);
  let angle = rng.uniform(0, 2 * Math.PI);
  const rows = new Int32Array(length);
  const cols = new Int32Array(length);
  rows[0] = x;
  cols[0] = y;
  const moving = !(rng.uniform(0, 1) > 0.5);
  if (!moving) {
    rows.fill(x);
    cols.fill(y);
  } else {
    for (let t = 1; t < length; t++) {
      x += Math.trunc(speed * Math.cos(angle));
      y += Math.trunc(speed * Math.sin(angle));
      speed += rng.normal(0, 1.5);
      angle += rng.normal(0, 0.25);
      if (x > maxRow || x < 0 || y > maxCol || y < 0) {
        speed = Math.abs(rng.normal(0, 1.5));
        angle = rng.uniform(0, 2 * Math.PI);
      }
      x = Math.min(Math.max(x, 0), maxRow);
      y = Math.min(Math.max(y, 0), maxCol);
      rows[t] = x;
      cols[t] = y;
    }
  }
  return { width, height, length, region, rows, cols, moving };
}

/** Frame `t` of a mask sequence as an H×W uint8 image (255 = hole). */
export function renderMask(seq: MaskSequence, t: number, out?: Uint8Array): Uint8Array {
  if (t < 0 || t >= seq.length) throw new Error(`renderMask: frame ${t} outside [0, ${seq.length})`);
  const { width, height, region } = seq;
  const m = out ?? new Uint8Array(width * height);
  m.fill(0);
  const r0 = seq.rows[t];
  const c0 = seq.cols[t];
  for (let r = 0; r < region.height; r++) {
    const src = r * region.width;
    const dst = (r + r0) * width + c0;
    m.set(region.data.subarray(src, src + region.width), dst);
  }
  return m;
}

/** The whole mask video (H×W 0/255 per frame), like the official function's return value. */
export function createRandomShapeWithRandomMotion(rng: Rng, length: number, height = 240, width = 432): Uint8Array[] {
  const seq = randomMaskSequence(rng, length, height, width);
  return Array.from({ length }, (_, t) => renderMask(seq, t));
}

/**
 * Binary dilation with a 3×3 cross, `iterations` times, zero outside the image (OpenCV
 * `dilate(getStructuringElement(MORPH_CROSS,(3,3)), iterations)`): each round is
 * max(self, up, down, left, right). Works on any uint8 values.
 */
export function dilateCross(mask: Uint8Array, width: number, height: number, iterations: number): Uint8Array {
  let cur = new Uint8Array(mask);
  let next = new Uint8Array(mask.length);
  for (let it = 0; it < iterations; it++) {
    for (let r = 0; r < height; r++) {
      for (let c = 0; c < width; c++) {
        const i = r * width + c;
        let v = cur[i];
        if (c > 0 && cur[i - 1] > v) v = cur[i - 1];
        if (c < width - 1 && cur[i + 1] > v) v = cur[i + 1];
        if (r > 0 && cur[i - width] > v) v = cur[i - width];
        if (r < height - 1 && cur[i + width] > v) v = cur[i + width];
        next[i] = v;
      }
    }
    const t = cur;
    cur = next;
    next = t;
  }
  return cur;
}

/** Non-zero → 1 (the `mask > 0` step). */
export function binarize(mask: Uint8Array): Uint8Array {
  const out = new Uint8Array(mask.length);
  for (let i = 0; i < mask.length; i++) out[i] = mask[i] ? 1 : 0;
  return out;
}
