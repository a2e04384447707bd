/**
 * Soft split / composition and the temporal sparse transformer of model/modules/sparse_transformer.py,
 * on channels-last token grids [B, T, fh, fw, 512].
 *
 * Sparse window attention (dim 512, 4 heads, window 5×9, pool 4×4):
 *  - queries/keys/values per 5×9 window of the zero-padded grid (padded tokens stay in the key
 *    sets, as projection biases — as in the official code);
 *  - "masked" windows (decided on the host from the mask data) attend jointly over all T frames'
 *    window tokens to the keys of the frames T_ind = start, start + t_dilation, …: 45 window +
 *    148 rolled (4 circular shifts of the grid, `valid_ind_rolled` picks 37 of 45 each) + ph·pw
 *    pooled tokens per frame;
 *  - the other windows do per-frame self-attention over their own 45 tokens.
 * Masked windows are computed one (window, head) at a time with plain 2-D matMuls (the fast wasm
 * path; batched or transposed matMuls are 10× slower there), which also bounds the memory.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Module } from '../../nn/module';
import { Conv2d, GELU, LayerNorm, Linear, ModuleList, gelu } from '../../nn/layers';
import { viewPermuteLayout } from '../../nn/layout';
import { defaultUniform } from '../../nn/init';
import { conv2d } from '../../ops/conv';
import { BlockPool, TapMajorLinear, split, unstack0 } from './layers';
import { mapFrameChunks } from '../../nn/chunks';
import { checkpoint } from '../../runtime/checkpoint';
import { PROPAINTER_T2T, T2TGeometry, foldCounts, foldPatches, patchCount, unfoldPatches } from './t2t';

/** `ss.embedding`: nn.Linear(C·k·k → hidden) state, used as a k×k stride-s conv filter. */
class PatchEmbedding extends Module {
  readonly weight: tf.Variable;
  readonly bias: tf.Variable;
  constructor(channels: number, hidden: number, k: number) {
    super();
    const fanIn = channels * k * k;
    const init = defaultUniform(fanIn);
    // (hidden, C·k·k) viewed as (hidden, C, k, k) → conv filter [k, k, C, hidden].
    const layout = viewPermuteLayout('softsplit', [hidden, fanIn], [hidden, channels, k, k], [2, 3, 1, 0]);
    this.weight = this.registerParameter('weight', [hidden, fanIn], init, layout);
    this.bias = this.registerParameter('bias', [hidden], init);
  }
}

/** SoftSplit: unfold (7×7, stride 3, pad 3) + Linear(6272 → 512) = one strided 7×7 conv. */
export class SoftSplit extends Module {
  readonly embedding: PatchEmbedding;
  constructor(readonly channels: number, readonly hidden: number, readonly geometry: T2TGeometry = PROPAINTER_T2T) {
    super();
    this.embedding = this.registerModule('embedding', new PatchEmbedding(channels, hidden, geometry.kernel));
  }

  /** x [N, h, w, C] → tokens [N, fh, fw, hidden]. */
  forward(x: tf.Tensor4D): tf.Tensor4D {
    return conv2d(x, this.embedding.weight as tf.Tensor4D, {
      stride: this.geometry.stride,
      padding: this.geometry.padding,
      bias: this.embedding.bias as tf.Tensor1D,
    });
  }
}

/** SoftComp: Linear(512 → 6272) per token, fold (sum) to (h, w), then `bias_conv`. */
export class SoftComp extends Module {
  readonly embedding: TapMajorLinear;
  readonly bias_conv: Conv2d;
  constructor(readonly channels: number, readonly hidden: number, readonly geometry: T2TGeometry = PROPAINTER_T2T) {
    super();
    const taps = geometry.kernel * geometry.kernel;
    this.embedding = this.registerModule('embedding', new TapMajorLinear(hidden, channels * taps, 'out', channels, taps));
    this.bias_conv = this.registerModule('bias_conv', new Conv2d(channels, channels, 3, { padding: 1 }));
  }

  /** tokens [N, fh, fw, hidden] → [N, h, w, C]. */
  forward(x: tf.Tensor4D, h: number, w: number): tf.Tensor4D {
    return tf.tidy(() => {
      const cols = this.embedding.forward(x) as tf.Tensor4D;
      return this.bias_conv.forward(foldPatches(cols, h, w, this.geometry)) as tf.Tensor4D;
    });
  }
}

/** FusionFeedForward: fc1 → fold / overlap count → unfold → GELU → fc2 (hidden 1960 = 40 × 49). */
export class FusionFeedForward extends Module {
  readonly fc1: ModuleList;
  readonly fc2: ModuleList;
  private readonly lin1: TapMajorLinear;
  private readonly lin2: TapMajorLinear;

  constructor(readonly dim: number, readonly hiddenDim = 1960, readonly geometry: T2TGeometry = PROPAINTER_T2T) {
    super();
    const taps = geometry.kernel * geometry.kernel;
    if (hiddenDim % taps !== 0) throw new Error(`FusionFeedForward: hidden ${hiddenDim} is not a multiple of ${taps}`);
    const ch = hiddenDim / taps;
    this.lin1 = new TapMajorLinear(dim, hiddenDim, 'out', ch, taps);
    this.lin2 = new TapMajorLinear(hiddenDim, dim, 'in', ch, taps);
    this.fc1 = this.registerModule('fc1', new ModuleList([this.lin1]));
    this.fc2 = this.registerModule('fc2', new ModuleList<Module>([new GELU(), this.lin2]));
  }

  /** x [N, fh, fw, dim] (one token grid per frame), (h, w) the feature size. */
  forward(x: tf.Tensor4D, h: number, w: number): tf.Tensor4D {
    const [, fh, fw] = x.shape;
    // Per chunk of frames: the hidden patches (and their fold/unfold copies) are the big part.
    return mapFrameChunks(
      x,
      (xc) => {
        const y = this.lin1.forward(xc) as tf.Tensor4D;
        const folded = tf.div(foldPatches(y, h, w, this.geometry), foldCounts(h, w, this.geometry)) as tf.Tensor4D;
        const z = unfoldPatches(folded, this.geometry);
        return this.lin2.forward(gelu(z)) as tf.Tensor4D;
      },
      fh * fw * this.hiddenDim * 4,
    ) as tf.Tensor4D;
  }
}

/** Kept-position list of the four rolled key copies (the checkpoint's `valid_ind_rolled`). */
export function validIndRolled(wh: number, ww: number): number[] {
  const eh = Math.floor((wh + 1) / 2);
  const ew = Math.floor((ww + 1) / 2);
  // Dropped region per copy (rows, cols) — the part that duplicates the window's own tokens.
  const dropped = [
    (r: number, c: number) => r < wh - eh && c < ww - ew,
    (r: number, c: number) => r < wh - eh && c >= ew,
    (r: number, c: number) => r >= eh && c < ww - ew,
    (r: number, c: number) => r >= eh && c >= ew,
  ];
  const out: number[] = [];
  dropped.forEach((drop, q) => {
    for (let r = 0; r < wh; r++) for (let c = 0; c < ww; c++) if (!drop(r, c)) out.push(q * wh * ww + r * ww + c);
  });
  return out;
}

/** torch.roll over axes 1 and 2 of [N, H, W, C] (split + concat: no saved copies on the tape). */
function roll2d(x: tf.Tensor4D, sh: number, sw: number): tf.Tensor4D {
  return tf.tidy(() => {
    const [n, h, w, c] = x.shape;
    let y: tf.Tensor4D = x;
    const s1 = ((sh % h) + h) % h;
    if (s1 !== 0) {
      const [top, bottom] = split(tf.reshape(y, [n, h, w * c]), [h - s1, s1], 1);
      y = tf.reshape(tf.concat([bottom, top], 1), [n, h, w, c]);
    }
    const s2 = ((sw % w) + w) % w;
    if (s2 !== 0) {
      const [left, right] = split(tf.reshape(y, [n * h, w * c]), [(w - s2) * c, s2 * c], 1);
      y = tf.reshape(tf.concat([right, left], 1), [n, h, w, c]);
    }
    return y === x ? tf.clone(x) : y;
  });
}

/** Frames start, start+step, … of [T, ...rest] (contiguous slices only). */
function selectFrames(x: tf.Tensor, start: number, step: number): tf.Tensor {
  return tf.tidy(() => {
    const [t, ...rest] = x.shape;
    const count = Math.max(0, Math.ceil((t - start) / step));
    if (start === 0 && step === 1) return tf.clone(x);
    const inner = rest.reduce((a, v) => a * v, 1);
    const tp = Math.ceil(t / step) * step;
    let flat = tf.reshape(x, [t, inner]);
    if (tp > t) flat = tf.pad(flat, [[0, tp - t], [0, 0]]);
    const sel = tf.slice(tf.reshape(flat, [tp / step, step * inner]), [0, start * inner], [count, inner]);
    return tf.reshape(sel, [count, ...rest]);
  });
}

export interface WindowGrid {
  nh: number;
  nw: number;
  hp: number;
  wp: number;
}

export function windowGrid(fh: number, fw: number, window: [number, number]): WindowGrid {
  const nh = Math.ceil(fh / window[0]);
  const nw = Math.ceil(fw / window[1]);
  return { nh, nw, hp: nh * window[0], wp: nw * window[1] };
}

export class SparseWindowAttention extends Module {
  readonly valid_ind_rolled: tf.Variable;
  readonly key: Linear;
  readonly query: Linear;
  readonly value: Linear;
  readonly proj: Linear;
  readonly pool_layer: BlockPool;
  readonly expand: [number, number];

  constructor(readonly dim: number, readonly nHead: number, readonly window: [number, number], readonly pool: [number, number] = [4, 4]) {
    super();
    if (dim % nHead !== 0) throw new Error(`SparseWindowAttention: dim ${dim} not divisible by ${nHead} heads`);
    if (pool[0] !== pool[1]) throw new Error('SparseWindowAttention: only square pooling is supported');
    this.expand = [Math.floor((window[0] + 1) / 2), Math.floor((window[1] + 1) / 2)];
    const ind = validIndRolled(window[0], window[1]);
    this.valid_ind_rolled = this.registerBuffer('valid_ind_rolled', tf.tensor1d(ind, 'int32'), { torchDtype: 'int64' });
    this.key = this.registerModule('key', new Linear(dim, dim));
    this.query = this.registerModule('query', new Linear(dim, dim));
    this.value = this.registerModule('value', new Linear(dim, dim));
    this.proj = this.registerModule('proj', new Linear(dim, dim));
    this.pool_layer = this.registerModule('pool_layer', new BlockPool(dim, pool[0]));
  }

  /** Window partition: [T, hp, wp, C] → [nW, T, wh·ww, C] (two rank ≤ 4 transposes). */
  private partition(g: tf.Tensor, grid: WindowGrid): tf.Tensor {
    const [t, , , c] = g.shape;
    const [wh, ww] = this.window;
    const nW = grid.nh * grid.nw;
    const rows = tf.transpose(tf.reshape(g, [t * grid.nh, wh, grid.nw, ww * c]), [0, 2, 1, 3]); // [T·nh, nw, wh, ww·C]
    return tf.reshape(tf.transpose(tf.reshape(rows, [t, nW, wh * ww * c]), [1, 0, 2]), [nW, t, wh * ww, c]);
  }

  /** Inverse of partition: [nW, T·wh·ww, C] → [T, hp, wp, C]. */
  private unpartition(x: tf.Tensor, t: number, grid: WindowGrid): tf.Tensor {
    const c = x.shape[2]!;
    const [wh, ww] = this.window;
    const nW = grid.nh * grid.nw;
    const byFrame = tf.transpose(tf.reshape(x, [nW, t, wh * ww * c]), [1, 0, 2]); // [T, nW, n·C]
    const rows = tf.transpose(tf.reshape(byFrame, [t * grid.nh, grid.nw, wh, ww * c]), [0, 2, 1, 3]);
    return tf.reshape(rows, [t, grid.hp, grid.wp, c]);
  }

  /**
   * x [T, fh, fw, C] (one clip, normed), `masked[w]` per window (row-major), keys of masked
   * windows from frames start, start + step, …. Returns [T, fh, fw, C].
   */
  forwardClip(x: tf.Tensor4D, masked: boolean[], tStart: number, tStep: number): tf.Tensor4D {
    return tf.tidy(() => {
      const [t, fh, fw, c] = x.shape;
      const [wh, ww] = this.window;
      const grid = windowGrid(fh, fw, this.window);
      const nW = grid.nh * grid.nw;
      const n = wh * ww;
      const heads = this.nHead;
      const dh = c / heads;
      const scale = 1 / Math.sqrt(dh);
      if (masked.length !== nW) throw new Error(`SparseWindowAttention: ${masked.length} window flags for ${nW} windows`);
      const xp = (grid.hp > fh || grid.wp > fw
        ? tf.pad(x, [[0, 0], [0, grid.hp - fh], [0, grid.wp - fw], [0, 0]])
        : x) as tf.Tensor4D;
      const q = this.query.forward(xp) as tf.Tensor4D;
      const k = this.key.forward(xp) as tf.Tensor4D;
      const v = this.value.forward(xp) as tf.Tensor4D;
      const qW = tf.reshape(this.partition(q, grid), [nW, t * n, c]);
      const kW = this.partition(k, grid); // [nW, T, n, C]
      const vW = this.partition(v, grid);
      const pieces: tf.Tensor[] = new Array(nW);
      // Per-window pieces come from one split each (a slice per window would save a copy of the
      // whole tensor per slice on the tape).
      const qWin = split(qW, nW, 0);

      // Unmasked windows: per-frame attention over the window's own tokens (batched, small).
      const unmasked = masked.map((m, i) => (m ? -1 : i)).filter((i) => i >= 0);
      if (unmasked.length > 0) {
        const kWin = split(kW, nW, 0);
        const vWin = split(vW, nW, 0);
        const nu = unmasked.length;
        const pick = (list: tf.Tensor[]) => (nu === 1 ? list[unmasked[0]] : tf.concat(unmasked.map((w) => list[w]), 0));
        // [nu, T·n, H, dh] → [nu, H, T·n, dh] → [nu·H·T, n, dh].
        const heads5 = (a: tf.Tensor) => tf.reshape(tf.transpose(tf.reshape(a, [nu, t * n, heads, dh]), [0, 2, 1, 3]), [nu * heads * t, n, dh]);
        const qs = heads5(pick(qWin)) as tf.Tensor3D;
        const ks = heads5(pick(kWin)) as tf.Tensor3D;
        const vs = heads5(pick(vWin)) as tf.Tensor3D;
        const att = tf.softmax(tf.mul(tf.matMul(qs, tf.transpose(ks, [0, 2, 1]) as tf.Tensor3D), scale));
        const ys = tf.matMul(att as tf.Tensor3D, vs);
        const back = tf.reshape(tf.transpose(tf.reshape(ys, [nu, heads, t * n, dh]), [0, 2, 1, 3]), [nu, t * n, c]);
        const backWin = nu === 1 ? [back] : split(back, nu, 0);
        unmasked.forEach((w, i) => (pieces[w] = backWin[i]));
      }

      // Masked windows: joint attention over all frames to the T_ind frames' key sets.
      const maskedIdx = masked.map((m, i) => (m ? i : -1)).filter((i) => i >= 0);
      if (maskedIdx.length > 0) {
        const tSel = Math.max(0, Math.ceil((t - tStart) / tStep));
        if (tSel === 0) {
          for (const w of maskedIdx) pieces[w] = tf.zeros([1, t * n, c]);
        } else {
          const { keys, values } = this.maskedKeySets(xp, k, v, grid, tStart, tStep);
          const nk = keys.shape[1]! / c;
          const kWin = split(keys, nW, 0);
          const vWin = split(values, nW, 0);
          for (const w of maskedIdx) {
            pieces[w] = tf.tidy(() => {
              const qh = unstack0(tf.transpose(tf.reshape(qWin[w], [t * n, heads, dh]), [1, 0, 2]));
              const kh = unstack0(tf.transpose(tf.reshape(kWin[w], [nk, heads, dh]), [1, 2, 0]));
              const vh = unstack0(tf.transpose(tf.reshape(vWin[w], [nk, heads, dh]), [1, 0, 2]));
              const outs: tf.Tensor[] = [];
              for (let h = 0; h < heads; h++) {
                // One (window, head) at a time: plain 2-D matMuls, [T·n, nk] scores at most.
                const att = tf.softmax(tf.mul(tf.matMul(qh[h] as tf.Tensor2D, kh[h] as tf.Tensor2D), scale)) as tf.Tensor2D;
                outs.push(tf.matMul(att, vh[h] as tf.Tensor2D));
              }
              // [H, T·n, dh] → [T·n, H·dh] (heads are contiguous channel slices).
              return tf.reshape(tf.transpose(tf.stack(outs, 0), [1, 0, 2]), [1, t * n, c]);
            });
          }
        }
      }

      // Un-partition: [nW, T·n, C] → [T, hp, wp, C], crop, project.
      let out: tf.Tensor = this.unpartition(tf.concat(pieces, 0), t, grid);
      if (grid.hp > fh || grid.wp > fw) out = tf.slice(out, [0, 0, 0, 0], [t, fh, fw, c]);
      return this.proj.forward(out) as tf.Tensor4D;
    });
  }

  /**
   * Key/value sets of every window for the selected frames: [nW, Ts·(n + rolled + pooled)·C]
   * (flattened per window; token order inside a set does not matter for attention).
   */
  private maskedKeySets(xp: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, grid: WindowGrid, tStart: number, tStep: number) {
    return tf.tidy(() => {
      const c = xp.shape[3];
      const [wh, ww] = this.window;
      const n = wh * ww;
      const nW = grid.nh * grid.nw;
      const [eh, ew] = this.expand;
      const ind = Array.from(this.valid_ind_rolled.dataSync());
      const shifts: Array<[number, number]> = [[-eh, -ew], [-eh, ew], [eh, -ew], [eh, ew]];
      // Per rolled copy: the kept and dropped segments of its n positions, in order.
      const segments: Array<Array<{ len: number; keep: boolean }>> = [[], [], [], []];
      const kept = new Set(ind);
      for (const i of ind) if (i < 0 || i >= 4 * n) throw new Error(`SparseWindowAttention: valid_ind_rolled index ${i} outside 0..${4 * n - 1}`);
      for (let q = 0; q < 4; q++) {
        for (let pos = 0; pos < n; pos++) {
          const keep = kept.has(q * n + pos);
          const seg = segments[q];
          const last = seg[seg.length - 1];
          if (last && last.keep === keep) last.len += 1;
          else seg.push({ len: 1, keep });
        }
      }
      const xs = selectFrames(xp, tStart, tStep) as tf.Tensor4D;
      const ts = xs.shape[0];
      const pooled = this.pool_layer.forward(xs); // [Ts, ph, pw, C]
      const np = pooled.shape[1] * pooled.shape[2];
      const build = (proj: Linear, grid4: tf.Tensor4D) =>
        tf.tidy(() => {
          const g = selectFrames(grid4, tStart, tStep) as tf.Tensor4D;
          const parts: tf.Tensor[] = [tf.reshape(this.partition(g, grid), [nW * ts, n * c])];
          shifts.forEach(([sh, sw], q) => {
            const copy = tf.reshape(this.partition(roll2d(g, sh, sw), grid), [nW * ts, n * c]);
            const segs = segments[q];
            const pieces = segs.length === 1 ? [copy] : split(copy, segs.map((sg) => sg.len * c), 1);
            segs.forEach((sg, i) => sg.keep && parts.push(pieces[i]));
          });
          if (np > 0) {
            const pk = tf.reshape(proj.forward(pooled), [1, ts, np * c]);
            parts.push(tf.reshape(tf.broadcastTo(pk, [nW, ts, np * c]), [nW * ts, np * c]));
          }
          return tf.reshape(tf.concat(parts, 1), [nW, -1]);
        });
      return { keys: build(this.key, k), values: build(this.value, v) };
    });
  }
}

/** Window flags per clip: a window is masked if any token of any mask frame is masked. */
export function windowFlags(tokenMask: Uint8Array, frames: number, fh: number, fw: number, window: [number, number]): boolean[] {
  const grid = windowGrid(fh, fw, window);
  const flags = new Array<boolean>(grid.nh * grid.nw).fill(false);
  for (let t = 0; t < frames; t++) {
    for (let y = 0; y < fh; y++) {
      for (let x = 0; x < fw; x++) {
        if (tokenMask[(t * fh + y) * fw + x]) flags[Math.floor(y / window[0]) * grid.nw + Math.floor(x / window[1])] = true;
      }
    }
  }
  return flags;
}

export class TemporalSparseTransformer extends Module {
  readonly attention: SparseWindowAttention;
  readonly norm1: LayerNorm;
  readonly norm2: LayerNorm;
  readonly mlp: FusionFeedForward;

  constructor(dim: number, nHead: number, window: [number, number], pool: [number, number], geometry: T2TGeometry = PROPAINTER_T2T) {
    super();
    this.attention = this.registerModule('attention', new SparseWindowAttention(dim, nHead, window, pool));
    this.norm1 = this.registerModule('norm1', new LayerNorm(dim));
    this.norm2 = this.registerModule('norm2', new LayerNorm(dim));
    this.mlp = this.registerModule('mlp', new FusionFeedForward(dim, 1960, geometry));
  }

  /**
   * x [B, T, fh, fw, C]; flags[b] per window; (h, w) the fold size. In training the attention and
   * the feed-forward halves are checkpointed segments (runtime/checkpoint.ts).
   */
  forward(x: tf.Tensor5D, h: number, w: number, flags: boolean[][], tStart: number, tStep: number): tf.Tensor5D {
    const [b, t, fh, fw, c] = x.shape;
    const attend = (xa: tf.Tensor) =>
      tf.tidy(() => {
        const y = this.norm1.forward(xa) as tf.Tensor5D;
        const clips = b === 1 ? [tf.reshape(y, [t, fh, fw, c])] : unstack0(y);
        const att = clips.map((yi, i) => this.attention.forwardClip(yi as tf.Tensor4D, flags[i], tStart, tStep));
        return tf.add(xa, tf.reshape(b === 1 ? att[0] : tf.stack(att, 0), [b, t, fh, fw, c]));
      });
    const feedForward = (x1: tf.Tensor) =>
      tf.tidy(() => {
        const z = this.norm2.forward(x1);
        const m = this.mlp.forward(tf.reshape(z, [b * t, fh, fw, c]) as tf.Tensor4D, h, w);
        return tf.add(x1, tf.reshape(m, [b, t, fh, fw, c]));
      });
    return tf.tidy(() => {
      const x1 = checkpoint(attend, [x], [...this.norm1.parameters(), ...this.attention.parameters()]);
      return checkpoint(feedForward, [x1], [...this.norm2.parameters(), ...this.mlp.parameters()]) as tf.Tensor5D;
    });
  }
}

export class TemporalSparseTransformerBlock extends Module {
  readonly transformer: ModuleList<TemporalSparseTransformer>;

  constructor(
    readonly dim: number,
    readonly nHead: number,
    readonly window: [number, number],
    readonly pool: [number, number],
    readonly depths: number,
    geometry: T2TGeometry = PROPAINTER_T2T,
  ) {
    super();
    this.transformer = this.registerModule(
      'transformer',
      new ModuleList(Array.from({ length: depths }, () => new TemporalSparseTransformer(dim, nHead, window, pool, geometry))),
    );
  }

  /** Block i uses T_ind = (i mod t_dilation) + k·t_dilation for its masked windows. */
  forward(x: tf.Tensor5D, h: number, w: number, flags: boolean[][], tDilation = 2): tf.Tensor5D {
    if (this.depths % tDilation !== 0) throw new Error(`TemporalSparseTransformerBlock: depths ${this.depths} not divisible by t_dilation ${tDilation}`);
    return tf.tidy(() => {
      let y = x;
      for (let i = 0; i < this.depths; i++) y = this.transformer.at(i).forward(y, h, w, flags, i % tDilation, tDilation);
      return y;
    });
  }
}

export { patchCount };
