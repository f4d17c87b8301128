/**
 * @descent/wasm-kernels — WebAssembly SIMD kernels (AssemblyScript) and the WasmBackend.
 * The kernels are being written (see the project issues); this entry point exports the engine
 * feature checks the loader uses to pick a build.
 */

// (module (func (result v128) v128.const i64x2 0 0)) — valid only where 128-bit SIMD is supported.
const SIMD_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 22, 1, 20, 0, 253, 12, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 11,
]);

/** Whether this engine validates WebAssembly 128-bit SIMD. */
export function hasWasmSimd(): boolean {
  try {
    return typeof WebAssembly !== 'undefined' && WebAssembly.validate(SIMD_PROBE);
  } catch {
    return false;
  }
}
