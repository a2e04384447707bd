/**
 * The MPI communicator, calling the system's MPI library through koffi (no compiler, no binding
 * to build). Two ABIs exist: MPICH's (also Intel MPI, MVAPICH, Cray MPICH), whose handles are int
 * constants, and Open MPI's, whose handles are the addresses of objects the library exports. The
 * library decides which one applies: it is Open MPI when it exports `ompi_mpi_comm_world`.
 * koffi and the library are loaded only here, so one-process runs never touch them.
 */
import type { LibraryHandle } from 'koffi';
import { UserError } from '../cli/command';
import type { Communicator } from './communicator';
import type { Placement } from './placement';

export type MpiFlavour = 'openmpi' | 'mpich';
export const MPI_FLAVOURS: readonly MpiFlavour[] = ['openmpi', 'mpich'];

/** sonames per flavour; MPICH derivatives ship `libmpi.so.12`. */
const SONAMES: Record<MpiFlavour, readonly string[]> = {
  openmpi: ['libmpi.so.40'],
  mpich: ['libmpich.so.12', 'libmpi.so.12'],
};

/** Debian packages bringing each flavour's launcher and library. */
export const DEBIAN_PACKAGE: Record<MpiFlavour, string> = { openmpi: 'openmpi-bin', mpich: 'mpich' };

export const INSTALL_HINT = `install Open MPI (apt-get install ${DEBIAN_PACKAGE.openmpi}) or MPICH (apt-get install ${DEBIAN_PACKAGE.mpich})`;

export interface MpiLibrary {
  flavour: MpiFlavour;
  /** What was loaded (soname or the PROPAINTER_MPI_LIB path). */
  file: string;
  /** First line of MPI_Get_library_version ("Open MPI v4.1.4", "MPICH 4.0.2"). */
  version: string;
  lib: LibraryHandle;
}

function koffi(): typeof import('koffi') {
  return require('koffi') as typeof import('koffi');
}

function describe(lib: LibraryHandle, file: string): MpiLibrary {
  let flavour: MpiFlavour = 'mpich';
  try {
    lib.symbol('ompi_mpi_comm_world');
    flavour = 'openmpi';
  } catch {
    // No Open MPI handle objects: MPICH ABI.
  }
  // MPI-3 allows this call before MPI_Init.
  const getVersion = lib.func('int MPI_Get_library_version(_Out_ uint8_t *version, _Out_ int *len)');
  const buf = Buffer.alloc(8192);
  const len = [0];
  getVersion(buf, len);
  const first = buf.subarray(0, len[0]).toString('utf8').split(/[\n,\0]/)[0];
  return { flavour, file, version: first.replace(/^MPICH Version:/, 'MPICH').replace(/\s+/g, ' ').trim(), lib };
}

/**
 * UCX settings for a Node process, unless the user set them. UCX (under Debian's MPICH, ch4:ucx)
 * by default rewrites libc's mmap/munmap machine code in place and hooks malloc when MPI_Init
 * starts, while V8's compiler and GC threads are calling them: measured here, 1 job in 11 of
 * `mpiexec.mpich -n 2` crashed in libc (SIGSEGV) or deadlocked in MPI_Init; 0 in 300 with these.
 * They switch off only UCX's memory-registration cache, which RDMA networks use, not shared memory or TCP.
 * UCX reads them when the library loads, hence process.env before it does.
 */
export const UCX_DEFAULTS: Readonly<Record<string, string>> = { UCX_MEM_MMAP_HOOK_MODE: 'none', UCX_MEM_MALLOC_HOOKS: 'no', UCX_MEM_EVENTS: 'no' };

function applyUcxDefaults(): void {
  for (const [k, v] of Object.entries(UCX_DEFAULTS)) if (process.env[k] === undefined) process.env[k] = v;
}

/**
 * Loads the MPI library: `PROPAINTER_MPI_LIB` when set, otherwise the first loadable soname,
 * trying `prefer`'s first (the flavour whose launcher started us). Global symbol binding, because
 * Open MPI's components are dlopen'ed later and resolve their symbols against libmpi.
 */
export function loadMpiLibrary(prefer: MpiFlavour | null, env: Readonly<Record<string, string | undefined>> = process.env): MpiLibrary {
  applyUcxDefaults();
  const explicit = env.PROPAINTER_MPI_LIB;
  if (explicit) {
    try {
      return describe(koffi().load(explicit, { global: true }), explicit);
    } catch (e) {
      throw new UserError(`PROPAINTER_MPI_LIB=${explicit}: cannot load it as an MPI library (${(e as Error).message})`);
    }
  }
  const order = prefer ? [prefer, ...MPI_FLAVOURS.filter((f) => f !== prefer)] : MPI_FLAVOURS;
  const tried: string[] = [];
  for (const f of order) {
    for (const so of SONAMES[f]) {
      tried.push(so);
      let lib: LibraryHandle;
      try {
        lib = koffi().load(so, { global: true });
      } catch {
        continue;
      }
      return describe(lib, so);
    }
  }
  throw new UserError(`no MPI library found (tried ${tried.join(', ')}): ${INSTALL_HINT}`);
}

const MPI_THREAD_FUNNELED = 1;
/** Elements per MPI call: counts are C ints, and very large messages are slow paths in some MPIs. */
const CHUNK = 1 << 28;

interface Handles {
  world: number | bigint;
  float: number | bigint;
  byte: number | bigint;
  sum: number | bigint;
  inPlace: bigint;
}

function handles(m: MpiLibrary): Handles {
  if (m.flavour === 'openmpi') {
    const s = (name: string) => m.lib.symbol(name) as bigint;
    // mpi.h: MPI_IN_PLACE is ((void *) 1).
    return { world: s('ompi_mpi_comm_world'), float: s('ompi_mpi_float'), byte: s('ompi_mpi_byte'), sum: s('ompi_mpi_op_sum'), inPlace: 1n };
  }
  // MPICH's mpi.h constants; MPI_IN_PLACE is ((void *) -1).
  return { world: 0x44000000, float: 0x4c00040a, byte: 0x4c00010d, sum: 0x58000003, inPlace: -1n };
}

type Fn = (...args: unknown[]) => number;

export class MpiCommunicator implements Communicator {
  readonly kind: MpiFlavour;
  readonly rank: number;
  readonly size: number;
  readonly localRank: number;
  readonly library: string;
  /** joined → finalized or aborted; the exit guard (lib/dist/join.ts) reads it. */
  state: 'joined' | 'finalized' | 'aborted' = 'joined';
  private readonly h: Handles;
  private readonly fn: Record<'allreduce' | 'bcast' | 'barrier' | 'abort' | 'finalize', Fn>;

  /** MPI_Init in this process (once) and checks that the library sees the launcher's job. */
  static open(placement: Placement, env: Readonly<Record<string, string | undefined>> = process.env): MpiCommunicator {
    const prefer: MpiFlavour | null = placement.launcher === 'openmpi' ? 'openmpi' : placement.launcher === 'hydra' ? 'mpich' : null;
    return new MpiCommunicator(loadMpiLibrary(prefer, env), placement);
  }

  private constructor(m: MpiLibrary, placement: Placement) {
    const t = m.flavour === 'openmpi' ? 'void *' : 'int';
    const f = (proto: string) => m.lib.func(proto) as unknown as Fn;
    const init = f('int MPI_Init_thread(void *argc, void *argv, int required, _Out_ int *provided)');
    const rank = f(`int MPI_Comm_rank(${t} comm, _Out_ int *rank)`);
    const size = f(`int MPI_Comm_size(${t} comm, _Out_ int *size)`);
    this.fn = {
      allreduce: f(`int MPI_Allreduce(void *sendbuf, void *recvbuf, int count, ${t} datatype, ${t} op, ${t} comm)`),
      bcast: f(`int MPI_Bcast(void *buf, int count, ${t} datatype, int root, ${t} comm)`),
      barrier: f(`int MPI_Barrier(${t} comm)`),
      abort: f(`int MPI_Abort(${t} comm, int errorcode)`),
      finalize: f('int MPI_Finalize()'),
    };
    this.h = handles(m);
    this.kind = m.flavour;
    this.library = m.version;
    const provided = [0];
    this.check(init(null, null, MPI_THREAD_FUNNELED, provided), 'MPI_Init_thread');
    const r = [0];
    const s = [0];
    this.check(rank(this.h.world, r), 'MPI_Comm_rank');
    this.check(size(this.h.world, s), 'MPI_Comm_size');
    this.rank = r[0];
    this.size = s[0];
    this.localRank = placement.localRank;
    if (this.size !== placement.size || this.rank !== placement.rank) {
      // A library of the other MPI initialises as a one-process job instead of joining.
      const msg =
        `${m.version} (${m.file}) sees rank ${this.rank} of ${this.size}, but the ${placement.launcher} launcher started ` +
        `rank ${placement.rank} of ${placement.size}: the launcher and the library must be the same MPI ` +
        `(set PROPAINTER_MPI_LIB to the launcher's libmpi)`;
      throw new UserError(msg);
    }
  }

  private check(rc: number, what: string): void {
    // The default error handler aborts the job before returning an error; this is the fallback.
    if (rc !== 0) throw new Error(`${what} failed on rank ${this.rank ?? '?'} with MPI error ${rc}`);
  }

  private live(what: string): void {
    if (this.state !== 'joined') throw new Error(`${what} after leaving the job (${this.state})`);
  }

  allreduceMean(buf: Float32Array): void {
    this.live('allreduceMean');
    for (let o = 0; o < buf.length; o += CHUNK) {
      const part = buf.subarray(o, Math.min(buf.length, o + CHUNK));
      this.check(this.fn.allreduce(this.h.inPlace, part, part.length, this.h.float, this.h.sum, this.h.world), 'MPI_Allreduce');
    }
    const n = this.size;
    for (let i = 0; i < buf.length; i++) buf[i] /= n;
  }

  broadcast(buf: Uint8Array | Float32Array): void {
    this.live('broadcast');
    const dt = buf instanceof Float32Array ? this.h.float : this.h.byte;
    for (let o = 0; o < buf.length; o += CHUNK) {
      const part = buf.subarray(o, Math.min(buf.length, o + CHUNK));
      this.check(this.fn.bcast(part, part.length, dt, 0, this.h.world), 'MPI_Bcast');
    }
  }

  barrier(): void {
    this.live('barrier');
    this.check(this.fn.barrier(this.h.world), 'MPI_Barrier');
  }

  abort(code = 1): never {
    this.state = 'aborted';
    this.fn.abort(this.h.world, code);
    process.exit(code);
  }

  finalize(): void {
    if (this.state !== 'joined') return;
    this.state = 'finalized';
    this.check(this.fn.finalize(), 'MPI_Finalize');
  }
}
