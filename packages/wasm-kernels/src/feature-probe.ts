/**
 * Engine feature checks used to pick a kernel build. Each probe is a tiny module that only validates where
 * the feature exists.
 */

function probeModule(body: number[]): Uint8Array<ArrayBuffer> {
  // (module (type (func (result v128))) (func (type 0) <body>))
  const code = [0x00, ...body, 0x0b]; // no locals, body, end
  return new Uint8Array([
    0x00,
    0x61,
    0x73,
    0x6d,
    0x01,
    0x00,
    0x00,
    0x00, // magic, version
    0x01,
    0x05,
    0x01,
    0x60,
    0x00,
    0x01,
    0x7b, // type section: () -> v128
    0x03,
    0x02,
    0x01,
    0x00, // function section
    0x0a,
    code.length + 2,
    0x01,
    code.length,
    ...code, // code section
  ]);
}

const V128_ZERO = [0xfd, 0x0c, ...new Array<number>(16).fill(0)]; // v128.const 0
/** v128.const 0 */
const SIMD_PROBE = probeModule(V128_ZERO);
/** f32x4.relaxed_madd(0, 0, 0) — opcode 0xfd 0x105 */
const RELAXED_PROBE = probeModule([...V128_ZERO, ...V128_ZERO, ...V128_ZERO, 0xfd, 0x85, 0x02]);

function validates(bytes: Uint8Array<ArrayBuffer>): boolean {
  try {
    return typeof WebAssembly !== 'undefined' && WebAssembly.validate(bytes);
  } catch {
    return false;
  }
}

/** Whether this engine validates WebAssembly 128-bit SIMD. */
export function hasWasmSimd(): boolean {
  return validates(SIMD_PROBE);
}

/**
 * Whether this engine validates relaxed SIMD (`f32x4.relaxed_madd`). Chromium: yes. Node 20: only when
 * started with `node --experimental-wasm-relaxed-simd` (the flag is refused inside NODE_OPTIONS).
 */
export function hasRelaxedSimd(): boolean {
  return validates(RELAXED_PROBE);
}

/** The kernel builds: `relaxed` (SIMD + relaxed SIMD, FMA in the matmul) and `simd` (plain SIMD). */
export type KernelVariant = 'simd' | 'relaxed';

/** The fastest build this engine runs; throws where WebAssembly SIMD is missing. */
export function chooseVariant(): KernelVariant {
  if (!hasWasmSimd()) {
    throw new Error('@descent/wasm-kernels: this engine lacks WebAssembly SIMD (v128)');
  }
  return hasRelaxedSimd() ? 'relaxed' : 'simd';
}
