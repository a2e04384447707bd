/**
 * Wasm training kernel pack (registered for the 'wasm' backend only).
 * Being written: see issue "Foundation" item 3.
 */
export function registerWasmKernelPack(): boolean {
  return false;
}
