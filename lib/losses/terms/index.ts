/** The built-in loss terms, in the order they are logged: generator (ProPainter), then flow completion. */
import { adversarial } from './adversarial';
import { edge } from './edge';
import { flow } from './flow';
import { hole } from './hole';
import { lpips } from './lpips';
import { perceptual } from './perceptual';
import { style } from './style';
import { valid } from './valid';
import { warp } from './warp';

export const BUILTIN_TERMS = [hole, valid, perceptual, style, lpips, adversarial, flow, warp, edge] as const;
