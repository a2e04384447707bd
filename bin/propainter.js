#!/usr/bin/env node
// Runs the TypeScript CLI through tsx (no build step).
require('tsx/cjs');
require('../lib/cli/main.ts').main(process.argv);
