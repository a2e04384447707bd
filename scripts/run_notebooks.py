#!/usr/bin/python3
"""Execute tslab notebooks headlessly with Jupyter's own executor (nbclient).

For every notebook: run all cells in a fresh kernel, then write the executed copy
(OUT/NAME.ipynb) and a self-contained HTML page (OUT/NAME.html). The first failing cell stops
the run: its source and the kernel's error text (tslab puts the JavaScript error and stack on
stderr, not in the execute reply) are printed, the partial copy is still written, and the exit
status is 1.

Called by scripts/notebooks.mjs (`npm run notebooks`), which sets JUPYTER_PATH so the kernelspec
in jupyter/kernels/tslab is found. Uses Debian's /usr/bin/python3 on purpose: a pyenv python3
first on PATH cannot see Debian's nbclient.

Exit status: 0 all notebooks ran, 1 a cell failed / timed out / the kernel died, 2 bad usage or
missing tools.
"""
import argparse
import os
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TEMPLATES = os.path.join(REPO, 'jupyter', 'nbconvert', 'templates')
INSTALL_HINT = 'apt-get install -y --no-install-recommends jupyter-nbconvert jupyter-client'

try:
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError
    from nbconvert import HTMLExporter
    from nbconvert.preprocessors.coalescestreams import coalesce_streams
    from jupyter_client.kernelspec import NoSuchKernel
except ImportError as e:  # pragma: no cover - depends on the machine
    sys.stderr.write(
        f'error: Jupyter is not installed for {sys.executable} ({e}).\n'
        f'  Debian/Ubuntu: {INSTALL_HINT}\n')
    sys.exit(2)


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('notebooks', nargs='+', help='.ipynb files')
    p.add_argument('--out-dir', default=os.path.join(REPO, 'reports', 'notebooks'),
                   help='where executed .ipynb and .html go (default reports/notebooks)')
    p.add_argument('--kernel', default='tslab', help='kernel name (default tslab)')
    p.add_argument('--timeout', type=float, default=1800,
                   help='per-cell timeout in seconds (default 1800; 0 = none)')
    p.add_argument('--startup-timeout', type=float, default=120, help='kernel start timeout (s)')
    p.add_argument('--no-html', action='store_true', help='write only the executed .ipynb')
    return p.parse_args()


def banner(text):
    return f'\n{"=" * 8} {text} {"=" * max(4, 70 - len(text))}'


def output_text(out):
    """The readable text of one output (streams, errors, plain-text results)."""
    if out.get('output_type') == 'stream':
        return out.get('text', '')
    if out.get('output_type') == 'error':
        tb = out.get('traceback') or []
        return '\n'.join(tb) if tb else f"{out.get('ename', '')}: {out.get('evalue', '')}"
    data = out.get('data', {})
    return data.get('text/plain', '') if isinstance(data, dict) else ''


def report_failure(path, nb, cell_index, reason):
    """Prints what failed: the cell's source and everything the kernel said on stderr."""
    err = sys.stderr
    cell = nb.cells[cell_index]
    code_no = sum(1 for c in nb.cells[:cell_index + 1] if c.cell_type == 'code')
    where = f'cell {cell_index + 1} of {len(nb.cells)} (code cell {code_no})'
    err.write(banner(f'FAILED {os.path.relpath(path)}: {where}: {reason}') + '\n')
    err.write('--- cell source ---\n')
    for n, line in enumerate(cell.source.splitlines(), 1):
        err.write(f'{n:4d} | {line}\n')
    err_outputs = [o for o in cell.get('outputs', [])
                   if o.get('output_type') == 'error' or
                   (o.get('output_type') == 'stream' and o.get('name') == 'stderr')]
    err.write('--- error ---\n')
    text = ''.join(output_text(o) for o in err_outputs).rstrip()
    err.write((text or '(the kernel reported no error text)') + '\n')
    # The last lines of stdout often say how far the cell got.
    stdout = ''.join(o.get('text', '') for o in cell.get('outputs', [])
                     if o.get('output_type') == 'stream' and o.get('name') == 'stdout').rstrip()
    if stdout:
        tail = stdout.splitlines()[-10:]
        err.write('--- last stdout lines ---\n' + '\n'.join(tail) + '\n')
    err.write('=' * 80 + '\n')


def write_outputs(nb, path, out_dir, html):
    """Writes OUT/NAME.ipynb and (optionally) OUT/NAME.html; returns the written paths."""
    os.makedirs(out_dir, exist_ok=True)
    name = os.path.splitext(os.path.basename(path))[0]
    nb, _ = coalesce_streams(nb, {})
    written = []
    ipynb_path = os.path.join(out_dir, name + '.ipynb')
    atomic_write(ipynb_path, nbformat.writes(nb))
    written.append(ipynb_path)
    if html:
        exporter = HTMLExporter(template_name='propainter', extra_template_basedirs=[TEMPLATES])
        body, _ = exporter.from_notebook_node(nb, resources={'metadata': {'name': name}})
        html_path = os.path.join(out_dir, name + '.html')
        atomic_write(html_path, body)
        written.append(html_path)
    return written


def atomic_write(target, text):
    tmp = f'{target}.{os.getpid()}.tmp'
    with open(tmp, 'w', encoding='utf-8') as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, target)


def run_one(path, args):
    nb = nbformat.read(path, as_version=4)
    failed = {}

    def on_cell_error(cell, cell_index, execute_reply):
        failed.setdefault('index', cell_index)

    started = {}
    timings = []  # (cell index, seconds)

    def on_cell_execute(cell, cell_index):
        failed['current'] = cell_index
        started[cell_index] = time.monotonic()

    def on_cell_executed(cell, cell_index, execute_reply):
        if cell_index in started:
            timings.append((cell_index, time.monotonic() - started[cell_index]))

    client = NotebookClient(
        nb,
        kernel_name=args.kernel,
        timeout=args.timeout or None,
        startup_timeout=args.startup_timeout,
        # The kernelspec itself changes to the repository root; this is the fallback for others.
        resources={'metadata': {'path': REPO}},
        on_cell_error=on_cell_error,
        on_cell_execute=on_cell_execute,
        on_cell_executed=on_cell_executed,
        record_timing=True,
    )
    start = time.monotonic()
    ok = True
    try:
        client.execute()
    except NoSuchKernel:
        sys.stderr.write(
            f'error: no Jupyter kernel named "{args.kernel}". The repository kernelspec is in '
            f'{os.path.join(REPO, "jupyter", "kernels")}; run through `npm run notebooks`, or set '
            f'JUPYTER_PATH={os.path.join(REPO, "jupyter")}\n')
        return 2
    except (CellExecutionError, CellTimeoutError, DeadKernelError) as e:
        ok = False
        index = failed.get('index', failed.get('current'))
        if isinstance(e, CellTimeoutError):
            reason = f'timed out after {args.timeout:g} s'
        elif isinstance(e, DeadKernelError):
            reason = 'the kernel died (process.exit? out of memory?)'
        else:
            reason = 'error'
        if index is not None:
            report_failure(path, nb, index, reason)
        else:
            sys.stderr.write(f'{os.path.relpath(path)}: {reason}: {e}\n')
    elapsed = time.monotonic() - start
    written = write_outputs(nb, path, args.out_dir, not args.no_html)
    rel = ', '.join(os.path.relpath(w) for w in written)
    status = 'ok' if ok else 'FAILED'
    print(f'{status:6s} {os.path.relpath(path)} ({elapsed:.1f} s) -> {rel}', flush=True)
    slow = sorted(timings, key=lambda t: -t[1])[:3]
    if ok and slow:
        print('       slowest cells: ' + ', '.join(f'#{i} {d:.1f} s' for i, d in slow), flush=True)
    return 0 if ok else 1


def main():
    args = parse_args()
    missing = [p for p in args.notebooks if not os.path.isfile(p)]
    if missing:
        sys.stderr.write(f'error: notebook not found: {", ".join(missing)}\n')
        return 2
    for path in args.notebooks:
        code = run_one(path, args)
        if code:
            return code
    return 0


if __name__ == '__main__':
    sys.exit(main())
