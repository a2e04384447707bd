#!/usr/bin/env node
/*
 * tslab kernel launcher for this repository (started by kernel.json in the repository root).
 *
 * tslab compiles the notebook and the .ts files it imports in memory and serves those modules
 * from its own table, but it looks a module up only as `<path>.js`: a directory import such as
 * `import … from './lib/data'` (lib/data/index.ts) or `'../../runtime'` inside lib then falls
 * through to Node's resolver, which does not know .ts, and fails with "Cannot find module".
 * This launcher redirects a relative require of a directory that has an index.ts (and no .js
 * twin) to `<dir>/index` through tslab's own require.
 *
 * It also turns off TypeScript's directory watching in tslab's compiler: tslab's host keeps a
 * single pending timer, and a directory event (a .ts or .json file created or removed in a folder
 * of the compiled program, e.g. while someone edits lib/) schedules a second one, after which
 * every following cell fails with "Unexpected pending rebuildTimer". Edited files are still
 * picked up (file watchers stay); new files need a kernel restart, as edits to lib/ do anyway.
 */
'use strict';
const fs = require('fs');
const path = require('path');
const Module = require('module');

const root = path.resolve(__dirname, '..', '..', '..');
// Read by lib/viz/display.ts: rich output goes to the notebook in this process only.
globalThis.__propainterTslabKernel = true;

const isFile = (p) => {
  try {
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
};

const original = Module.prototype.require;
function requireWithTsIndex(id) {
  if (typeof id === 'string' && (id === '.' || id === '..' || id.startsWith('./') || id.startsWith('../'))) {
    const dir = path.resolve(this.filename ? path.dirname(this.filename) : process.cwd(), id);
    if (isFile(path.join(dir, 'index.ts')) && !isFile(`${dir}.js`) && !isFile(`${dir}.ts`) && !isFile(path.join(dir, 'index.js'))) {
      const target = `${id.replace(/\/+$/, '')}/index`;
      // A module compiled by tslab has tslab's require as its own; the notebook's top level
      // uses the one tslab publishes on globalThis.__tslab__.
      if (this.require !== requireWithTsIndex) return this.require(target);
      const top = globalThis.__tslab__ && globalThis.__tslab__.require;
      if (top) return top(target);
    }
  }
  return original.call(this, id);
}
Module.prototype.require = requireWithTsIndex;

const tslabDir = path.join(root, 'node_modules', 'tslab');
const ts = require(require.resolve('@tslab/typescript-for-tslab', { paths: [tslabDir] }));
ts.sys.watchDirectory = undefined;

// tslab loads compiled modules with Node's plain require, which cannot load the ES-module files of
// tfjs-core that lib/runtime imports (register_all_gradients, the chained ops): tsx's hook can.
require(require.resolve('tsx/cjs', { paths: [root] }));

require(path.join(tslabDir, 'dist', 'main.js')).main();
