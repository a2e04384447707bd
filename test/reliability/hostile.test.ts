/**
 * The hostile-input table: every file in ./rows exports `rows: HostileRow[]` for one command
 * (see harness.ts for what each row asserts). A new command or defect adds a file or a row.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { HostileRow, hostileRows } from './harness';

const dir = path.join(__dirname, 'rows');
for (const f of fs.readdirSync(dir).filter((n) => n.endsWith('.ts')).sort()) {
  hostileRows((require(path.join(dir, f)) as { rows: HostileRow[] }).rows);
}
