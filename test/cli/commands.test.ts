import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { COMMANDS } from '../../lib/cli/commands';

// The index is hand-written (the CLI's one lazy-load point): a command module missing from it
// would silently vanish from the CLI.
test('every command module is in the CLI index under its own name', () => {
  const dir = path.join(__dirname, '../../lib/cli/commands');
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.ts') && f !== 'index.ts').map((f) => f.slice(0, -3)).sort();
  assert.deepEqual(Object.keys(COMMANDS).sort(), files);
  for (const name of files) assert.equal(COMMANDS[name]().name, name);
});
