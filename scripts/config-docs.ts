// Writes docs/config.md from the config schema and the registries (npm run docs:config).
import * as fs from 'fs';
import * as path from 'path';
import { configReference } from '../lib/train/config-docs';

const file = path.join(__dirname, '..', 'docs', 'config.md');
fs.writeFileSync(file, configReference());
console.log(`wrote ${path.relative(process.cwd(), file)}`);
