/**
 * Synthetic videos with exact ground-truth optical flow, for tests and for flow training without
 * RAFT weights.
 *
 * Scene: a textured background and 1–3 textured objects (ellipses / rectangles), each layer moving
 * by an integer displacement per frame (changing over time). All layers live on the W×H torus
 * (positions wrap), so a layer's content at frame k+1 is exactly its content at frame k shifted
 * by the layer's displacement v_k. Hence, with the warping convention of spec §1
 * (warp(src, flow)(p) = src(p + flow(p)); forward flow k maps frame k → k+1):
 *   forward  flow k at pixel p of frame k   = v_k of the top layer at p in frame k,
 *   backward flow k at pixel q of frame k+1 = −v_k of the top layer at q in frame k+1,
 * and warping frame k+1 by forward flow k reproduces frame k at every pixel that is not occluded
 * and whose target p + v stays inside the image (true motion, as in Sintel-style ground truth).
 * Integer displacements are exact in the float16 .flo encoding.
 */
import type { Image8 } from '../io/image';
import type { Flow } from '../io/flo';
import { Rng } from './rng';

export interface SynthOptions {
  frames: number;
  width?: number;
  height?: number;
  /** Number of moving objects (default: random 1–3). */
  objects?: number;
  /** Largest |dx|, |dy| per frame of objects (background moves at most half of it). */
  maxSpeed?: number;
  /**
   * Real images (W×H×3 each) to use as layer textures instead of procedural ones, e.g. frames of
   * the bundled clip: real content, still moved with exactly known motion.
   */
  textures?: Uint8Array[];
}

export interface SynthVideo {
  width: number;
  height: number;
  frames: Image8[];
  /** T−1 forward flows (k → k+1) and backward flows (k+1 → k). */
  flowsF: Flow[];
  flowsB: Flow[];
  /** Per frame, per pixel: index of the visible layer (0 = background). */
  layers: Uint8Array[];
}

interface Layer {
  texture: Uint8Array; // W×H×3 on the torus
  shape: ((lx: number, ly: number) => boolean) | null; // null = full-frame background
  ox: Int32Array; // position per frame
  oy: Int32Array;
}

const mod = (a: number, n: number) => ((a % n) + n) % n;

/** A periodic texture: random integer-frequency sinusoids plus fine noise, on the W×H torus. */
function periodicTexture(rng: Rng, W: number, H: number): Uint8Array {
  const K = 10;
  const out = new Float32Array(W * H * 3);
  const base = [rng.uniform(60, 200), rng.uniform(60, 200), rng.uniform(60, 200)];
  for (let k = 0; k < K; k++) {
    const fx = rng.randint(-Math.min(24, W >> 2), Math.min(24, W >> 2));
    const fy = rng.randint(-Math.min(16, H >> 2), Math.min(16, H >> 2));
    const amp = rng.uniform(8, 40) / Math.sqrt(1 + Math.abs(fx) + Math.abs(fy)) * 3;
    const ph = [rng.uniform(0, 2 * Math.PI), rng.uniform(0, 2 * Math.PI), rng.uniform(0, 2 * Math.PI)];
    const ax = (2 * Math.PI * fx) / W;
    const ay = (2 * Math.PI * fy) / H;
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        const a = ax * x + ay * y;
        const i = (y * W + x) * 3;
        out[i] += amp * Math.cos(a + ph[0]);
        out[i + 1] += amp * Math.cos(a + ph[1]);
        out[i + 2] += amp * Math.cos(a + ph[2]);
      }
    }
  }
  const tex = new Uint8Array(W * H * 3);
  for (let i = 0; i < tex.length; i++) {
    const v = base[i % 3] + out[i] + (rng.random() - 0.5) * 30;
    tex[i] = v < 0 ? 0 : v > 255 ? 255 : Math.round(v);
  }
  return tex;
}

/** Integer displacements per step: a slowly changing random walk within ±max. */
function trajectory(rng: Rng, T: number, W: number, H: number, max: number): { ox: Int32Array; oy: Int32Array; vx: Int32Array; vy: Int32Array } {
  const ox = new Int32Array(T);
  const oy = new Int32Array(T);
  const vx = new Int32Array(Math.max(0, T - 1));
  const vy = new Int32Array(Math.max(0, T - 1));
  ox[0] = rng.randint(0, W - 1);
  oy[0] = rng.randint(0, H - 1);
  let dx = rng.randint(-max, max);
  let dy = rng.randint(-max, max);
  for (let t = 0; t + 1 < T; t++) {
    if (rng.random() < 0.3) dx = Math.max(-max, Math.min(max, dx + rng.randint(-1, 1)));
    if (rng.random() < 0.3) dy = Math.max(-max, Math.min(max, dy + rng.randint(-1, 1)));
    vx[t] = dx;
    vy[t] = dy;
    ox[t + 1] = mod(ox[t] + dx, W);
    oy[t + 1] = mod(oy[t] + dy, H);
  }
  return { ox, oy, vx, vy };
}

export function synthVideo(rng: Rng, opts: SynthOptions): SynthVideo {
  const W = opts.width ?? 432;
  const H = opts.height ?? 240;
  const T = opts.frames;
  const maxSpeed = opts.maxSpeed ?? 4;
  if (!Number.isInteger(T) || T < 1) throw new Error(`synthVideo: frames ${T} must be ≥ 1`);
  if (W < 8 || H < 8) throw new Error(`synthVideo: size ${W}x${H} too small`);
  const nObj = opts.objects ?? rng.randint(1, 3);
  for (const t of opts.textures ?? []) {
    if (t.length !== W * H * 3) throw new Error(`synthVideo: texture has ${t.length} values, expected ${W}×${H}×3`);
  }
  // Layer l takes texture l of the given list (cycled); procedural textures otherwise.
  const texture = (l: number) => (opts.textures?.length ? opts.textures[(l * 7) % opts.textures.length] : periodicTexture(rng, W, H));
  const layers: Layer[] = [];
  const velocities: { vx: Int32Array; vy: Int32Array }[] = [];
  const bgT = trajectory(rng, T, W, H, Math.max(1, Math.floor(maxSpeed / 2)));
  layers.push({ texture: texture(0), shape: null, ox: bgT.ox, oy: bgT.oy });
  velocities.push(bgT);
  for (let i = 0; i < nObj; i++) {
    const sw = rng.randint(Math.max(4, Math.floor(W / 8)), Math.max(5, Math.floor(W / 3)));
    const sh = rng.randint(Math.max(4, Math.floor(H / 8)), Math.max(5, Math.floor(H / 3)));
    const ellipse = rng.random() < 0.5;
    const shape = ellipse
      ? (lx: number, ly: number) => {
          const u = (lx + 0.5 - sw / 2) / (sw / 2);
          const v = (ly + 0.5 - sh / 2) / (sh / 2);
          return u * u + v * v <= 1;
        }
      : (lx: number, ly: number) => lx < sw && ly < sh;
    const tr = trajectory(rng, T, W, H, maxSpeed);
    layers.push({ texture: texture(i + 1), shape, ox: tr.ox, oy: tr.oy });
    velocities.push(tr);
  }
  const frames: Image8[] = [];
  const top: Uint8Array[] = [];
  for (let t = 0; t < T; t++) {
    const data = new Uint8Array(W * H * 3);
    const lay = new Uint8Array(W * H);
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        let li = 0;
        for (let l = layers.length - 1; l > 0; l--) {
          const L = layers[l];
          if (L.shape!(mod(x - L.ox[t], W), mod(y - L.oy[t], H))) {
            li = l;
            break;
          }
        }
        const L = layers[li];
        const s = (mod(y - L.oy[t], H) * W + mod(x - L.ox[t], W)) * 3;
        const d = (y * W + x) * 3;
        data[d] = L.texture[s];
        data[d + 1] = L.texture[s + 1];
        data[d + 2] = L.texture[s + 2];
        lay[y * W + x] = li;
      }
    }
    frames.push({ width: W, height: H, channels: 3, data });
    top.push(lay);
  }
  const flowsF: Flow[] = [];
  const flowsB: Flow[] = [];
  for (let k = 0; k + 1 < T; k++) {
    const f = new Float32Array(W * H * 2);
    const b = new Float32Array(W * H * 2);
    for (let i = 0; i < W * H; i++) {
      const lf = top[k][i];
      f[2 * i] = velocities[lf].vx[k];
      f[2 * i + 1] = velocities[lf].vy[k];
      const lb = top[k + 1][i];
      b[2 * i] = 0 - velocities[lb].vx[k]; // 0 − v: no negative zeros in the files
      b[2 * i + 1] = 0 - velocities[lb].vy[k];
    }
    flowsF.push({ width: W, height: H, data: f });
    flowsB.push({ width: W, height: H, data: b });
  }
  return { width: W, height: H, frames, flowsF, flowsB, layers: top };
}
