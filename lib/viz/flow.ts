/**
 * Optical-flow colour coding: the Middlebury colour wheel of Baker et al. (ICCV 2007), computed
 * exactly as RAFT's `core/utils/flow_viz.py` (`flow_to_color`), which ProPainter also uses. Hue is
 * the direction, saturation the magnitude relative to the largest one in the field:
 * right → red, down → yellow, left → cyan-blue, up → violet (image coordinates, y down).
 *
 * RAFT's port reads the wheel at index k0 = ⌊fk⌋ with fk = (a + 1)/2·(ncols − 1) + 1, one entry
 * further than the Middlebury C code; we follow RAFT so images match the reference outputs
 * (pure right flow is (255, 17, 0), not (255, 0, 0)). Its one out-of-range case (a = +1, k0 = 55)
 * wraps to entry 0 instead of raising.
 *
 * `style: 'cvbase'` draws as cvbase's `flow2rgb`, which the official evaluate_flow_completion.py
 * saves its flow PNGs with: the same segments but exact i/n ramps (not floored to bytes), the
 * wheel read at (a + 1)/2·(ncols − 1) without RAFT's offset (pure right flow is (255, 0, 0)),
 * normalised by the exact largest vector (none when the field is all zero), unknown above 1e6.
 */
import { RgbImage } from './image';

/** Wheel segment lengths: red→yellow, yellow→green, green→cyan, cyan→blue, blue→magenta, magenta→red. */
const RY = 15;
const YG = 6;
const GC = 4;
const CB = 11;
const BM = 13;
const MR = 6;
export const NCOLS = RY + YG + GC + CB + BM + MR;

export type FlowColorStyle = 'raft' | 'cvbase';

const wheels: Partial<Record<FlowColorStyle, Float64Array>> = {};

/** The 55 × 3 colour wheel (RGB, 0..255), row-major: RAFT's byte values or cvbase's exact ramps. */
export function colorWheel(style: FlowColorStyle = 'raft'): Float64Array {
  const cached = wheels[style];
  if (cached) return cached;
  const w = new Float64Array(NCOLS * 3);
  // Each segment ramps one channel between two primaries: [length, channel held at 255, ramped
  // channel, rising?] — the order of RAFT's make_colorwheel.
  const segments: Array<[number, number, number, boolean]> = [
    [RY, 0, 1, true], // red → yellow: G rises
    [YG, 1, 0, false], // yellow → green: R falls
    [GC, 1, 2, true], // green → cyan: B rises
    [CB, 2, 1, false], // cyan → blue: G falls
    [BM, 2, 0, true], // blue → magenta: R rises
    [MR, 0, 2, false], // magenta → red: B falls
  ];
  let col = 0;
  for (const [n, full, ramp, rising] of segments) {
    for (let i = 0; i < n; i++) {
      const v = style === 'raft' ? Math.floor((255 * i) / n) : (255 * i) / n;
      w[(col + i) * 3 + full] = 255;
      w[(col + i) * 3 + ramp] = rising ? v : 255 - v;
    }
    col += n;
  }
  wheels[style] = w;
  return w;
}

/** Flow field (H, W, 2) channels-last, last axis (dx, dy) in pixels. */
export interface FlowField {
  width: number;
  height: number;
  data: ArrayLike<number>;
}

interface FlowTensorLike {
  shape: readonly number[];
  dataSync(): ArrayLike<number>;
}

export type FlowInput = FlowField | { shape: readonly number[]; data: ArrayLike<number> } | FlowTensorLike;

function unpackFlow(f: FlowInput): FlowField {
  if (typeof (f as FlowTensorLike).dataSync === 'function' || Array.isArray((f as { shape?: unknown }).shape)) {
    const shape = [...(f as { shape: readonly number[] }).shape];
    const data = typeof (f as FlowTensorLike).dataSync === 'function' ? (f as FlowTensorLike).dataSync() : (f as { data: ArrayLike<number> }).data;
    const dims = shape.length === 4 && shape[0] === 1 ? shape.slice(1) : shape;
    if (dims.length !== 3 || dims[2] !== 2) throw new Error(`flow: expected a channels-last (H, W, 2) field, got shape [${shape.join(', ')}]`);
    return { height: dims[0], width: dims[1], data };
  }
  const ff = f as FlowField;
  if (ff.data.length !== ff.width * ff.height * 2) throw new Error(`flow: ${ff.data.length} values for ${ff.width}x${ff.height}x2`);
  return ff;
}

export interface FlowColorOptions {
  /**
   * Normalise by this radius (pixels) instead of the field's own maximum, so several fields share
   * one scale. Flow longer than this is drawn darker (×0.75), as in the reference.
   */
  maxRadius?: number;
  /** BGR channel order (OpenCV) instead of RGB. */
  bgr?: boolean;
  /** 'raft' (default, RAFT's flow_viz) or 'cvbase' (cvbase.flow2rgb, the official flow PNGs). */
  style?: FlowColorStyle;
}

/** Components at or beyond this magnitude are "unknown" (drawn black). */
const UNKNOWN_FLOW: Record<FlowColorStyle, number> = { raft: 1e9, cvbase: 1e6 };

/** Largest flow magnitude in the field (invalid entries ignored). */
export function maxFlowRadius(flow: FlowInput, style: FlowColorStyle = 'raft'): number {
  const f = unpackFlow(flow);
  let m = 0;
  for (let i = 0; i < f.width * f.height; i++) {
    const u = f.data[2 * i];
    const v = f.data[2 * i + 1];
    if (!valid(u, v, style)) continue;
    m = Math.max(m, Math.sqrt(u * u + v * v));
  }
  return m;
}

function valid(u: number, v: number, style: FlowColorStyle): boolean {
  const t = UNKNOWN_FLOW[style];
  // RAFT's limit is exclusive, cvbase's ("> 1e6") inclusive.
  return Number.isFinite(u) && Number.isFinite(v) && (style === 'raft' ? Math.abs(u) < t && Math.abs(v) < t : Math.abs(u) <= t && Math.abs(v) <= t);
}

/**
 * Colour image of a flow field. Non-finite and "unknown" (RAFT: ≥ 1e9, cvbase: > 1e6) vectors
 * are black.
 */
export function flowToColor(flow: FlowInput, opts: FlowColorOptions = {}): RgbImage {
  const f = unpackFlow(flow);
  const n = f.width * f.height;
  const out = new Uint8Array(n * 3);
  const style = opts.style ?? 'raft';
  const raft = style === 'raft';
  const cw = colorWheel(style);
  const maxRad = opts.maxRadius ?? maxFlowRadius(f, style);
  const norm = raft ? maxRad + 1e-5 : maxRad > Number.EPSILON ? maxRad : 1;
  for (let i = 0; i < n; i++) {
    const fu = f.data[2 * i];
    const fv = f.data[2 * i + 1];
    if (!valid(fu, fv, style)) continue;
    const u = fu / norm;
    const v = fv / norm;
    const rad = Math.sqrt(u * u + v * v);
    // -v, -u as numpy does: a zero component becomes -0, which selects atan2's -π branch.
    const a = Math.atan2(-v, -u) / Math.PI;
    const fk = ((a + 1) / 2) * (NCOLS - 1) + (raft ? 1 : 0);
    let k0 = Math.floor(fk);
    let k1 = k0 + 1;
    if (raft && k1 === NCOLS) k1 = 1;
    const frac = fk - k0;
    if (k0 >= NCOLS) k0 -= NCOLS;
    if (k1 >= NCOLS) k1 -= NCOLS;
    for (let ch = 0; ch < 3; ch++) {
      const col0 = cw[k0 * 3 + ch] / 255.0;
      const col1 = cw[k1 * 3 + ch] / 255.0;
      let col = (1 - frac) * col0 + frac * col1;
      if (rad <= 1) col = 1 - rad * (1 - col);
      else col = col * 0.75;
      out[i * 3 + (opts.bgr ? 2 - ch : ch)] = Math.floor(255 * col);
    }
  }
  return { width: f.width, height: f.height, data: out };
}

/**
 * The colour-wheel legend: a `size`² image where each pixel shows the colour of the flow vector
 * from the centre to it (the disc edge is the normalising radius).
 */
export function flowWheelLegend(size = 96): RgbImage {
  const c = (size - 1) / 2;
  const data = new Float32Array(size * size * 2);
  const outside: boolean[] = [];
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const i = y * size + x;
      const dx = (x - c) / c;
      const dy = (y - c) / c;
      outside[i] = dx * dx + dy * dy > 1;
      data[2 * i] = dx;
      data[2 * i + 1] = dy;
    }
  }
  const img = flowToColor({ width: size, height: size, data }, { maxRadius: 1 });
  outside.forEach((o, i) => {
    if (o) img.data.fill(255, 3 * i, 3 * i + 3);
  });
  return img;
}
