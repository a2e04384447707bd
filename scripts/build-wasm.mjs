#!/usr/bin/env node
// Builds the wasm pack's SIMD kernels from their WebAssembly text source with wabt (an npm
// devDependency: works offline once `npm ci` ran). The built files are committed, so neither CI
// nor users run this; run it after editing lib/runtime/simd/kernels.wat. Two variants: one
// importing a plain memory (tfjs-wasm's SIMD build) and one importing the shared memory of its
// threaded-SIMD build (PROPAINTER_THREADS > 1).
//   node scripts/build-wasm.mjs           write lib/runtime/simd/kernels{,-shared}.wasm
//   node scripts/build-wasm.mjs --check   exit 1 if the committed files differ from a fresh build
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const dir = new URL('../lib/runtime/simd/', import.meta.url).pathname;
const MEMORY_LINE = '(import "env" "memory" (memory 1))';
const SHARED_LINE = '(import "env" "memory" (memory 1 65536 shared))';
const FEATURES = { simd: true, threads: true };

export async function buildSimdKernels() {
  const wabt = await require('wabt')();
  const source = readFileSync(join(dir, 'kernels.wat'), 'utf8');
  if (!source.includes(MEMORY_LINE)) throw new Error(`kernels.wat: the memory import line ${MEMORY_LINE} is missing`);
  const build = (text, name) => {
    const mod = wabt.parseWat(name, text, FEATURES);
    try {
      mod.validate(FEATURES);
      return Buffer.from(mod.toBinary({ log: false, write_debug_names: false }).buffer);
    } finally {
      mod.destroy();
    }
  };
  return {
    'kernels.wasm': build(source, 'kernels.wat'),
    'kernels-shared.wasm': build(source.replace(MEMORY_LINE, SHARED_LINE), 'kernels-shared.wat'),
  };
}

if (process.argv[1] && new URL(import.meta.url).pathname === process.argv[1]) {
  const check = process.argv.includes('--check');
  const built = await buildSimdKernels();
  let stale = false;
  for (const [name, bytes] of Object.entries(built)) {
    const file = join(dir, name);
    if (check) {
      let old = null;
      try { old = readFileSync(file); } catch { /* missing */ }
      if (!old || !old.equals(bytes)) { console.error(`${file} differs from a fresh build`); stale = true; }
    } else {
      writeFileSync(file, bytes);
      console.log(`wrote ${file} (${bytes.length} bytes)`);
    }
  }
  if (stale) process.exit(1);
}
