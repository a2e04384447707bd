/** Types of scripts/build-wasm.mjs for the TypeScript tests. */
export function buildSimdKernels(): Promise<Record<string, Buffer>>;
