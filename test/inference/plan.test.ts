import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import {
  inferenceRefNum, paddedSegments, propagationChunkLength, raftChunks, raftClipLengthForWidth, referenceIds, slidingWindows,
} from '../../lib/inference/plan';

test('RAFT chunks: clip length by width, later chunks start one frame early', () => {
  assert.deepEqual([640, 641, 720, 721, 1280, 1281].map(raftClipLengthForWidth), [12, 8, 8, 4, 4, 2]);
  assert.deepEqual(raftChunks(12, 12), [{ start: 0, end: 12 }]);
  // The 24-frame fixture case: two calls, pairs 0..10 and 11..22 (23 pairs, none lost or doubled).
  assert.deepEqual(raftChunks(24, 12), [{ start: 0, end: 12 }, { start: 11, end: 24 }]);
  assert.deepEqual(raftChunks(25, 12), [{ start: 0, end: 12 }, { start: 11, end: 24 }, { start: 23, end: 25 }]);
  // Evaluation: 60-frame chunks.
  assert.deepEqual(raftChunks(130, 60), [{ start: 0, end: 60 }, { start: 59, end: 120 }, { start: 119, end: 130 }]);
  const pairs = raftChunks(97, 8).flatMap((c) => Array.from({ length: c.end - c.start - 1 }, (_, k) => c.start + k));
  assert.deepEqual(pairs, Array.from({ length: 96 }, (_, k) => k));
});

test('padded sub-videos: flow completion (pad 5) and image propagation (pad 10, ≤ 100)', () => {
  assert.deepEqual(paddedSegments(23, 80, 5), [{ start: 0, end: 23, keepStart: 0, keepEnd: 23 }]);
  // 24-frame case, --subvideo_length 10: 23 flows.
  assert.deepEqual(paddedSegments(23, 10, 5), [
    { start: 0, end: 15, keepStart: 0, keepEnd: 10 },
    { start: 5, end: 23, keepStart: 10, keepEnd: 20 },
    { start: 15, end: 23, keepStart: 20, keepEnd: 23 },
  ]);
  assert.deepEqual(paddedSegments(24, propagationChunkLength(10), 10), [
    { start: 0, end: 20, keepStart: 0, keepEnd: 10 },
    { start: 0, end: 24, keepStart: 10, keepEnd: 20 },
    { start: 10, end: 24, keepStart: 20, keepEnd: 24 },
  ]);
  assert.equal(propagationChunkLength(80), 80);
  assert.equal(propagationChunkLength(300), 100);
  assert.deepEqual(paddedSegments(500, Infinity, 10), [{ start: 0, end: 500, keepStart: 0, keepEnd: 500 }]);
});

// Expected values are those the official get_ref_index returns for the same arguments.
test('reference selection: both branches of get_ref_index', () => {
  const locals = [5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];
  // ref_num = −1: every stride-aligned frame not local (also evaluation's rule).
  assert.deepEqual(referenceIds(10, locals, 47, 10, -1), [0, 20, 30, 40]);
  // ref_num branch: range(max(0, f − stride·⌊n/2⌋), min(T, f + stride·⌊n/2⌋), stride), relative to f.
  assert.deepEqual(referenceIds(10, locals, 200, 10, 8), [0, 20, 30, 40]);
  assert.deepEqual(referenceIds(55, [50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60], 200, 10, 8), [15, 25, 35, 45, 65, 75, 85]);
  // Up to ref_num + 1 are taken (the break comes after the length check passes once more).
  assert.deepEqual(referenceIds(50, [50], 200, 5, 4), [40, 45, 55]);
  assert.deepEqual(referenceIds(50, [50], 200, 1, 2), [49]);
  assert.deepEqual(referenceIds(50, [], 200, 1, 8), [46, 47, 48, 49, 50, 51, 52, 53]);
  assert.equal(inferenceRefNum(80, 80, 10), -1);
  assert.equal(inferenceRefNum(81, 80, 10), 8);
  assert.equal(inferenceRefNum(24, 10, 5), 2);
});

test('sliding windows: stride ⌊neighbor_length/2⌋, locals clipped to the video', () => {
  const w = slidingWindows(24, 6, 5, 2);
  assert.deepEqual(w.map((x) => x.mid), [0, 3, 6, 9, 12, 15, 18, 21]);
  assert.deepEqual(w[0].localIds, [0, 1, 2, 3]);
  assert.deepEqual(w[1].localIds, [0, 1, 2, 3, 4, 5, 6]);
  assert.deepEqual(w[7].localIds, [18, 19, 20, 21, 22, 23]);
  // ref_num 2 with stride 5: range(max(0, f−5), min(24, f+5), 5) minus locals.
  // Values of the official get_ref_index for this video.
  assert.deepEqual(w.map((x) => x.refIds), [[], [], [1], [4], [7], [10], [13], [16]]);
  assert.throws(() => slidingWindows(10, 1, 10, -1), /neighbor_length/);
});
