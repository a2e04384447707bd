/**
 * Short clips cut from one video of a dataset root into a new DAVIS-layout root (frames and
 * evaluation masks renumbered from 00000): several videos from one, e.g. the bundled 80-frame
 * clip as a small evaluation set (notebook 04, `npm run bench -- evaluate`).
 */
import * as fs from 'fs';
import * as path from 'path';
import { MASKS_DIR, childPath, listFrames, maskFileName, resizedFramesDirName } from './layout';

export interface ClipSpec {
  /** Name of the clip's video in the new root. */
  name: string;
  /** First frame taken (index into the source's sorted frames). */
  start: number;
}

/**
 * Copies `frames` frames (and their masks) of `video` in `sourceRoot` from each clip's start into
 * `outRoot`/JPEGImages_432_240/<name>/ and test_masks/<name>/. Returns the clips' names.
 */
export function cutClips(sourceRoot: string, video: string, outRoot: string, clips: readonly ClipSpec[], frames: number): string[] {
  const framesDir = resizedFramesDirName();
  const srcFrames = childPath(path.join(sourceRoot, framesDir), video, 'video');
  const srcMasks = childPath(path.join(sourceRoot, MASKS_DIR), video, 'video');
  const names = listFrames(srcFrames);
  const masks = listFrames(srcMasks);
  if (masks.length !== names.length) throw new Error(`${srcMasks}: ${masks.length} masks for the ${names.length} frames of ${srcFrames}`);
  for (const c of clips) {
    if (c.start < 0 || c.start + frames > names.length) throw new Error(`${srcFrames}: clip ${c.name} (frames ${c.start}…${c.start + frames - 1}) is outside its ${names.length} frames`);
    const outFrames = childPath(path.join(outRoot, framesDir), c.name, 'clip');
    const outMasks = childPath(path.join(outRoot, MASKS_DIR), c.name, 'clip');
    fs.mkdirSync(outFrames, { recursive: true });
    fs.mkdirSync(outMasks, { recursive: true });
    for (let i = 0; i < frames; i++) {
      const src = names[c.start + i];
      fs.copyFileSync(path.join(srcFrames, src), path.join(outFrames, `${String(i).padStart(5, '0')}${path.extname(src)}`));
      fs.copyFileSync(path.join(srcMasks, masks[c.start + i]), path.join(outMasks, maskFileName(i)));
    }
  }
  return clips.map((c) => c.name);
}
