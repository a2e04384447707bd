/**
 * Starting the ranks: re-executes this process's command line under `mpiexec -n N` (Open MPI or
 * MPICH) and waits for it. The ranks find the launcher's environment and join (lib/dist/join.ts).
 *
 * Ctrl-C / SIGTERM here is forwarded to every rank as SIGUSR1 (both launchers forward it), so the
 * ranks can agree to stop after a checkpoint (this process then exits 130 / 143); a second one
 * ends the job at once. When the job fails,
 * the launcher's own report is scanned for the rank that failed, which the error then names.
 */
import { spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { UserError } from '../cli/command';
import { isRunning } from '../io/pid';
import { LAUNCH_MARKER, RANK_DIR } from './join';
import { DEBIAN_PACKAGE, INSTALL_HINT, MPI_FLAVOURS, loadMpiLibrary, type MpiFlavour } from './mpi';

export interface Mpiexec {
  path: string;
  flavour: MpiFlavour;
  /** First line of `mpiexec --version`. */
  version: string;
}

const NAMES: Record<MpiFlavour, readonly string[]> = {
  openmpi: ['mpiexec.openmpi', 'mpirun.openmpi'],
  mpich: ['mpiexec.mpich', 'mpiexec.hydra'],
};

type Env = Readonly<Record<string, string | undefined>>;

function onPath(name: string, env: Env): string | null {
  for (const dir of (env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const p = path.join(dir, name);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      if (fs.statSync(p).isFile()) return p;
    } catch {
      // not here
    }
  }
  return null;
}

/** Which MPI an mpiexec belongs to, from its --version text. */
export function mpiexecFlavour(versionText: string): MpiFlavour | null {
  if (/Open MPI|OpenRTE|open-mpi/i.test(versionText)) return 'openmpi';
  if (/HYDRA|MPICH|Intel\(R\) MPI/i.test(versionText)) return 'mpich';
  return null;
}

function probe(p: string): Mpiexec | null {
  const r = spawnSync(p, ['--version'], { encoding: 'utf8', timeout: 20000 });
  const text = `${r.stdout ?? ''}\n${r.stderr ?? ''}`;
  const flavour = mpiexecFlavour(text);
  if (!flavour) return null;
  const lines = text.split('\n').map((l) => l.trim()).filter(Boolean);
  const version = flavour === 'mpich' ? (lines.find((l) => /^Version:/.test(l)) ?? lines[0]) : lines[0];
  return { path: p, flavour, version: version.replace(/\s+/g, ' ') };
}

/**
 * The mpiexec to use: the preferred flavour's (`mpi`, else PROPAINTER_MPI), else `mpiexec` on PATH
 * (Debian's update-alternatives choice), else any flavour's. Missing → one line naming the package.
 */
export function findMpiexec(mpi?: MpiFlavour, env: Env = process.env): Mpiexec {
  const want = mpi ?? (env.PROPAINTER_MPI ? (env.PROPAINTER_MPI as MpiFlavour) : undefined);
  if (want !== undefined && !MPI_FLAVOURS.includes(want)) {
    throw new UserError(`PROPAINTER_MPI=${want} is not an MPI flavour; use one of ${MPI_FLAVOURS.join(', ')}`);
  }
  const names = want ? NAMES[want] : ['mpiexec', ...NAMES.openmpi, ...NAMES.mpich];
  for (const n of names) {
    const p = onPath(n, env);
    const m = p ? probe(p) : null;
    if (m && (!want || m.flavour === want)) return m;
  }
  if (want) throw new UserError(`${NAMES[want].join(' / ')} not found on PATH: apt-get install ${DEBIAN_PACKAGE[want]}`);
  throw new UserError(`mpiexec not found on PATH: ${INSTALL_HINT}`);
}

/** The mpiexec argument list that starts `command` (program and arguments) on `nproc` ranks. */
export function mpiexecArgs(m: Mpiexec, nproc: number, command: readonly string[], opts: { root: boolean }): string[] {
  const flags: string[] = [];
  if (m.flavour === 'openmpi') {
    // More ranks than cores is allowed; no core binding, so a multithreaded backend (tfjs-node)
    // keeps its threads; Open MPI refuses root without the explicit flag (CI runs as root).
    flags.push('--oversubscribe', '--bind-to', 'none');
    if (opts.root) flags.push('--allow-run-as-root');
  }
  return [...flags, '-n', String(nproc), ...command];
}

export interface LaunchOptions {
  nproc: number;
  mpi?: MpiFlavour;
  /** The command to run on every rank; default this process's: node, its flags, script, arguments. */
  command?: readonly string[];
  env?: Env;
  /** Where the launcher's and ranks' output goes (scanned for the failed rank on the way). */
  stdout?: NodeJS.WritableStream;
  stderr?: NodeJS.WritableStream;
}

const KEEP_TAIL = 64 * 1024;
const POLL_MS = 100;
/** How long a rank may be gone (without finishing) before this process ends a job its launcher keeps running. */
const GRACE_MS = 3000;

/**
 * pid by rank from the rank-R.pid files, and the ranks that have finished (rank-R.done). A pid
 * file caught while being written reads as empty and is picked up by the next poll.
 */
function readRankDir(dir: string): { pids: Map<number, number>; done: Set<number> } {
  const pids = new Map<number, number>();
  const done = new Set<number>();
  for (const f of fs.readdirSync(dir)) {
    const m = /^rank-(\d+)\.(pid|done)$/.exec(f);
    if (!m) continue;
    if (m[2] === 'done') done.add(Number(m[1]));
    else {
      const pid = Number(fs.readFileSync(path.join(dir, f), 'utf8').trim());
      if (Number.isSafeInteger(pid) && pid > 0) pids.set(Number(m[1]), pid);
    }
  }
  return { pids, done };
}

/** The ranks' last words (rank-R.last, lib/dist/join.ts sayLastWords), the first written first. */
function readLastWords(dir: string): string {
  const files = fs.readdirSync(dir).filter((f) => /^rank-\d+\.last$/.test(f)).map((f) => path.join(dir, f));
  const byTime = files.map((f) => ({ f, t: fs.statSync(f, { bigint: true }).mtimeNs })).sort((a, b) => (a.t < b.t ? -1 : a.t > b.t ? 1 : 0));
  return byTime.map(({ f }) => readHead(f, KEEP_TAIL)).join('');
}

/** At most `bytes` bytes of a file from its start (a rank writes a line or a stack; never more is read). */
function readHead(file: string, bytes: number): string {
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.alloc(Math.min(bytes, fs.fstatSync(fd).size));
    return buf.subarray(0, fs.readSync(fd, buf, 0, buf.length, 0)).toString('utf8');
  } finally {
    fs.closeSync(fd);
  }
}

/** What the launching process saw of the ranks it started (lib/dist/launch.ts polls them). */
export interface Observed {
  /** pid → rank, from the ranks' pid files: MPICH's launcher names processes by pid. */
  rankOfPid?: ReadonlyMap<number, number>;
  /** The rank seen gone (without finishing) before any other. */
  firstGone?: { rank: number; pid: number };
  /** Set when this process ended a job its launcher kept running. */
  ended?: string;
}

/**
 * Which rank failed and how, from what the ranks and the launcher printed (the last part of the
 * job's output) and what the launching process observed. Null when nothing says.
 */
export function describeFailure(report: string, nproc: number, seen: Observed = {}): string | null {
  const of = (r: number | string) => `rank ${r} of ${nproc}`;
  let m: RegExpExecArray | null;
  // The ranks' own last words (lib/dist/job.ts, lib/dist/join.ts) say the most.
  if ((m = /propainter: rank (\d+) of \d+ (failed: [^\n]*|exited with code \d+|ended before the job finished[^;\n]*)/.exec(report))) return `${of(m[1])} ${m[2]}`;
  // A rank that waited in MPI_Init for a peer that exited before joining: the watchdog ended it,
  // and the launcher then reports that rank.
  if ((m = /propainter: rank (\d+) of \d+: (MPI_Init did not finish within [^:]*): ([^;\n]*)/.exec(report))) return `${of(m[1])}: ${m[2]}: ${m[3]}`;
  // Open MPI
  if ((m = /process rank (\d+) with PID \d+ on\s+node (\S+) exited on signal (\d+) \(([^)]*)\)/.exec(report))) return `${of(m[1])} (on ${m[2]}) was killed by signal ${m[3]} (${m[4]})`;
  if ((m = /MPI_ABORT was invoked on rank (\d+)[^]*?errorcode (\d+)/.exec(report))) return `${of(m[1])} called MPI_Abort (code ${m[2]})`;
  if ((m = /process rank (\d+) with PID \d+ on\s+node (\S+) exiting improperly/.exec(report))) return `${of(m[1])} (on ${m[2]}) exited without leaving the job (no MPI_Finalize)`;
  if ((m = /Process name: \[\[\d+,\d+\],(\d+)\]\s+Exit code:\s+(\d+)/.exec(report))) return `${of(m[1])} exited with code ${m[2]}`;
  // MPICH (Hydra) names one failed process by pid. A peer that crashes while the launcher cleans
  // up can be the one named, so say which rank was gone first when that was another.
  if ((m = /PID (\d+) RUNNING AT (\S+)\s*=\s*EXIT CODE: (\d+)/.exec(report))) {
    const pid = Number(m[1]);
    const rank = seen.rankOfPid?.get(pid);
    const who = rank === undefined ? `the process with pid ${pid}` : `${of(rank)} (pid ${pid})`;
    const str = /EXIT STRING: ([^\n]*)/.exec(report);
    const what = `${who} on ${m[2]} ended: ${str ? str[1].trim() : `exit code ${m[3]}`}`;
    const first = seen.firstGone;
    return first && first.pid !== pid ? `${of(first.rank)} (pid ${first.pid}) ended first; then ${what}` : what;
  }
  if ((m = /MPI_Abort\(MPI_COMM_WORLD, (\d+)\) - process (\d+)/.exec(report))) return `${of(m[2])} called MPI_Abort (code ${m[1]})`;
  if (seen.ended) return seen.ended;
  if (seen.firstGone) return `${of(seen.firstGone.rank)} (pid ${seen.firstGone.pid}) ended without finishing`;
  return null;
}

/**
 * Runs the command on `nproc` ranks under mpiexec and resolves when all have finished; rejects
 * with a UserError naming the failed rank when the job fails.
 */
export async function launchRanks(opts: LaunchOptions): Promise<void> {
  const env = opts.env ?? process.env;
  const m = findMpiexec(opts.mpi, env);
  // The ranks would each fail to load the library; say it once, before starting them.
  const lib = loadMpiLibrary(m.flavour, env);
  if (lib.flavour !== m.flavour) {
    throw new UserError(`${path.basename(m.path)} is ${m.flavour} but its library is missing (found ${lib.file}, ${lib.flavour}): apt-get install ${DEBIAN_PACKAGE[m.flavour]}`);
  }
  const command = opts.command ?? [process.execPath, ...process.execArgv, ...process.argv.slice(1)];
  const args = mpiexecArgs(m, opts.nproc, command, { root: process.getuid?.() === 0 });
  const out = opts.stderr ?? process.stderr;
  const name = path.basename(m.path);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'propainter-dist-'));
  // Own process group: the terminal's Ctrl-C reaches only this process, which forwards it as a
  // stop request (Open MPI's mpiexec would kill the ranks within a second of a SIGINT). No stdin:
  // mpiexec forwards it to rank 0, and reading a terminal from another group would stop it.
  const child = spawn(m.path, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
    env: { ...env, [LAUNCH_MARKER]: String(process.pid), [RANK_DIR]: dir },
  });
  // Both streams pass through and are scanned: MPICH's launcher reports failures on stdout.
  let tail = '';
  const pass = (to: NodeJS.WritableStream) => (d: Buffer) => {
    to.write(d);
    tail = (tail + d.toString('utf8')).slice(-KEEP_TAIL);
  };
  child.stdout.on('data', pass(opts.stdout ?? process.stdout));
  child.stderr.on('data', pass(out));
  // SIGTERM lets Open MPI's launcher clean up (session folder, shared-memory segments) as it ends
  // the ranks; MPICH's forwards it to the ranks, which may be handling it: SIGKILL follows.
  const endJob = (): void => {
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), 2000).unref();
  };
  let signals = 0;
  let firstSignal: NodeJS.Signals | null = null;
  const onSignal = (sig: NodeJS.Signals): void => {
    signals++;
    if (signals === 1) {
      firstSignal = sig;
      out.write(`propainter: ${sig}: asking all ${opts.nproc} ranks to stop (again to end them at once)\n`);
      child.kill('SIGUSR1');
    } else {
      out.write(`propainter: ${sig} again: ending the job\n`);
      endJob();
    }
  };
  const onExit = (): void => {
    // This process is going away (an error, process.exit): do not leave the job running unseen.
    // No time to wait here; both launchers take their ranks down with them.
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  // A rank gone without finishing is normally the launcher's to clean up; when it does not (a
  // rank that exited before MPI_Init, or with code 0 under Open MPI), end the job here.
  const seen: { rankOfPid: Map<number, number>; firstGone?: { rank: number; pid: number }; ended?: string } = { rankOfPid: new Map() };
  const goneSince = new Map<number, number>();
  const poll = setInterval(() => {
    const { pids, done } = readRankDir(dir);
    seen.rankOfPid = new Map([...pids].map(([r, p]) => [p, r]));
    const now = Date.now();
    const newlyGone = [...pids].filter(([rank, pid]) => !done.has(rank) && !goneSince.has(rank) && !isRunning(pid));
    if (goneSince.size === 0 && newlyGone.length === 1) seen.firstGone = { rank: newlyGone[0][0], pid: newlyGone[0][1] };
    for (const [rank] of newlyGone) goneSince.set(rank, now);
    for (const [rank, since] of goneSince) {
      if (seen.ended || now - since < GRACE_MS) continue;
      seen.ended = `rank ${rank} of ${opts.nproc} (pid ${pids.get(rank)}) ended without finishing and ${name} kept the job running; ended it`;
      out.write(`propainter: ${seen.ended}\n`);
      endJob();
    }
  }, POLL_MS);
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('exit', onExit);
  let result: { code: number | null; signal: NodeJS.Signals | null };
  let lastWords = '';
  try {
    result = await new Promise((resolve, reject) => {
      child.on('error', reject);
      child.on('close', (code, signal) => resolve({ code, signal }));
    });
  } finally {
    clearInterval(poll);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('exit', onExit);
    lastWords = readLastWords(dir);
    fs.rmSync(dir, { recursive: true, force: true });
  }
  // MPICH's launcher may exit with 0 after a SIGTERM, so the request decides.
  if (signals >= 2) throw new UserError(`the job on ${opts.nproc} ranks was ended on request (a second Ctrl-C / SIGTERM)`, 130);
  if (result.code === 0 && !seen.ended) {
    // Stopped on request and ended cleanly: exit as a shell reports a process the signal ended (130 / 143), as one process does.
    if (firstSignal) process.exitCode = 128 + os.constants.signals[firstSignal];
    return;
  }
  const how = result.signal ? `was killed by ${result.signal}` : `exited with code ${result.code}`;
  const failure = describeFailure(`${lastWords}${tail}`, opts.nproc, seen) ?? `the job on ${opts.nproc} ranks failed`;
  const code = result.code !== null && result.code > 0 ? result.code : 1;
  throw new UserError(`${failure}; ${name} ${how}`, code);
}
