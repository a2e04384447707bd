/**
 * Generic cpu fallback for wasm kernels that are wrong or missing and rare enough that
 * cpu-JS speed is acceptable: copy the inputs out of the wasm heap into the cpu backend, run the
 * cpu kernel, copy the result(s) back into wasm-owned tensors. Correct by construction (it is the
 * cpu kernel), slow (0.03–0.3 GF/s).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { KernelArgs, KFn, TI } from './wasm-util';

interface CpuBackend {
  write(values: tf.backend_util.BackendValues, shape: number[], dtype: tf.DataType): object;
  readSync(dataId: object): tf.backend_util.BackendValues;
  disposeData(dataId: object, force?: boolean): boolean;
}

let cpuBackend: CpuBackend | null = null;

function cpu(): CpuBackend {
  if (cpuBackend) return cpuBackend;
  // Loaded on first use so a wasm session that never falls back never builds the cpu backend.
  // Registering it does not change the active backend.
  require('@tensorflow/tfjs-backend-cpu');
  const be = tf.findBackend('cpu');
  if (!be) throw new Error('lib/runtime/wasm-fallback: the cpu backend failed to initialise');
  cpuBackend = be as unknown as CpuBackend;
  return cpuBackend;
}

/** A wasm kernelFunc that runs the cpu backend's kernel `name` on copies of its inputs. */
export function cpuFallback(name: string): KFn {
  return ({ inputs, backend, attrs }: KernelArgs) => {
    const c = cpu();
    const k = tf.getKernel(name, 'cpu');
    if (!k) throw new Error(`lib/runtime/wasm-fallback: the cpu backend has no kernel ${name}`);
    const owned: object[] = [];
    const toCpu = (t: TI): TI => {
      const dataId = c.write(backend.readSync(t.dataId), t.shape.slice(), t.dtype);
      owned.push(dataId);
      return { dataId, shape: t.shape.slice(), dtype: t.dtype };
    };
    const cpuInputs: Record<string, TI> | TI[] = Array.isArray(inputs)
      ? (inputs as TI[]).map(toCpu)
      : Object.fromEntries(Object.entries(inputs).filter(([, t]) => t != null).map(([n, t]) => [n, toCpu(t)]));
    try {
      const res = k.kernelFunc({ inputs: cpuInputs as tf.NamedTensorInfoMap, backend: c as unknown as tf.KernelBackend, attrs: attrs as tf.NamedAttrMap });
      const outs = Array.isArray(res) ? res : [res];
      const back = outs.map((o) => {
        const vals = c.readSync(o.dataId);
        const w = backend.makeOutput(o.shape.slice(), o.dtype, undefined, vals);
        c.disposeData(o.dataId);
        return w;
      });
      return Array.isArray(res) ? back : back[0];
    } finally {
      for (const id of owned) c.disposeData(id);
    }
  };
}
