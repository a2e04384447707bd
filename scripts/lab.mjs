#!/usr/bin/env node
// `npm run lab [-- JUPYTER-ARGS...]`: starts JupyterLab (or the classic Notebook) on the repository
// with the committed tslab kernelspec (jupyter/kernels/tslab, found through JUPYTER_PATH). The
// kernel starts in the repository root, so notebooks import './lib/...'.
import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

/** First executable named `name` on PATH, then in /usr/bin. */
function which(name) {
  const dirs = [...(process.env.PATH ?? '').split(delimiter).filter(Boolean), '/usr/bin'];
  for (const d of dirs) {
    const p = join(d, name);
    if (existsSync(p)) return p;
  }
  return null;
}

const jupyter = which('jupyter-lab') ?? which('jupyter-notebook');
if (!jupyter) {
  console.error(`Jupyter is not installed (neither jupyter-lab nor jupyter-notebook was found).
  Debian/Ubuntu (classic Notebook):  sudo apt-get install -y --no-install-recommends jupyter-notebook
  JupyterLab (not packaged in Debian 12):  python3 -m venv ~/.venvs/jupyter && ~/.venvs/jupyter/bin/pip install jupyterlab
                                           then put ~/.venvs/jupyter/bin on PATH
  Then run \`npm run lab\` again. Headless execution needs only: npm run notebooks (jupyter-nbconvert).`);
  process.exit(1);
}
if (!existsSync(join(root, 'node_modules', 'tslab', 'bin', 'tslab'))) {
  console.error('tslab is missing from node_modules: run `npm ci` first.');
  process.exit(1);
}

const env = {
  ...process.env,
  JUPYTER_PATH: [join(root, 'jupyter'), process.env.JUPYTER_PATH].filter(Boolean).join(delimiter),
  // Kernels run on this same Node (require(esm) for arquero needs >= 20.19).
  PROPAINTER_NODE: process.execPath,
};
const args = [`--notebook-dir=${root}`];
// Containers often run as root, which Jupyter refuses without this flag.
if (process.getuid?.() === 0) args.push('--allow-root');
args.push(...process.argv.slice(2));
console.log(`starting ${jupyter} (kernel "TypeScript (tslab, ProPainter-TS)"; notebooks in notebooks/)`);
const child = spawn(jupyter, args, { cwd: root, env, stdio: 'inherit' });
// Ctrl-C reaches Jupyter directly (same process group; it asks for confirmation): ignore it here.
process.on('SIGINT', () => undefined);
process.on('SIGTERM', () => child.kill('SIGTERM'));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
child.on('error', (e) => {
  console.error(`cannot start ${jupyter}: ${e.message}`);
  process.exit(1);
});
