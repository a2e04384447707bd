/**
 * `npm run bench -- <suite> [args]`: runs bench/<suite>.ts, which exports
 * `async function run(args: string[]): Promise<void>`. Initialises the runtime first
 * (PROPAINTER_BACKEND is respected) and prints the backend. Without a known suite, lists them.
 */
import * as fs from 'fs';
import * as path from 'path';
import { initRuntime } from '../lib/runtime';
import { memoryReport } from './util';

/** Files of this folder that are not suites. */
const NOT_SUITES = new Set(['index', 'util', 'reference']);

function availableSuites(): string[] {
  return fs
    .readdirSync(__dirname)
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts') && !f.startsWith('_'))
    .map((f) => f.slice(0, -3))
    .filter((s) => !NOT_SUITES.has(s))
    .sort();
}

async function main(): Promise<void> {
  const [suite, ...args] = process.argv.slice(2);
  const suites = availableSuites();
  if (!suite || !suites.includes(suite)) {
    if (suite) console.error(`bench: unknown suite "${suite}"`);
    console.error(`usage: npm run bench -- <suite> [args]\navailable suites: ${suites.join(', ') || '(none)'}`);
    process.exitCode = suite ? 1 : 0;
    return;
  }
  const mod = require(path.join(__dirname, suite)) as { run?: (args: string[]) => Promise<void> };
  if (typeof mod.run !== 'function') throw new Error(`bench/${suite}.ts does not export run(args)`);
  const info = await initRuntime();
  const pack = info.backend === 'wasm' ? `, wasm kernel pack ${info.wasmKernelPack ? 'on' : 'off'}` : '';
  const threads = info.backend === 'wasm' ? `, ${info.threads} thread${info.threads > 1 ? 's' : ''}${info.threadsNote ? ` (${info.threadsNote})` : ''}` : '';
  console.log(`backend: ${info.backend} (${info.flavour}${info.gpu ? ', GPU' : ''}${pack}${threads}); tfjs ${info.tfjsVersion}, node ${info.nodeVersion}`);
  const t0 = performance.now();
  await mod.run(args);
  console.log(`bench ${suite}: done in ${((performance.now() - t0) / 1000).toFixed(1)} s; ${memoryReport()}`);
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? (e.stack ?? e.message) : e);
  process.exitCode = 1;
});
