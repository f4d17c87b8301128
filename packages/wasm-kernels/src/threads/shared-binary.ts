/**
 * Derives the shared-memory build of a kernel module from its plain build by rewriting one thing: the
 * limits of the imported memory, from `(memory 1)` to `(memory 1 65536 shared)`.
 *
 * Why not compile a second pair of builds with `asc --enable threads --sharedMemory`? The kernels use no
 * atomics, and wasm memory instructions are encoded the same for shared and unshared memories, so the
 * import's limits are the only difference that matters. Rewriting them (a) keeps the package at two
 * embedded binaries instead of four, and (b) guarantees that threaded and single-threaded runs execute the
 * very same compiled functions — part of why their results are bit-identical. (`scripts/build-wasm.mjs
 * --shared` still builds the asc variants, as a check that the sources compile for threads.)
 */

/** The largest memory a wasm32 module can declare, in 64 KiB pages (4 GiB). */
export const MAX_PAGES = 65536;

const SECTION_IMPORT = 2;
const KIND_FUNC = 0;
const KIND_TABLE = 1;
const KIND_MEMORY = 2;
const KIND_GLOBAL = 3;
const KIND_TAG = 4;

class Reader {
  pos: number;
  constructor(
    readonly bytes: Uint8Array,
    pos: number,
  ) {
    this.pos = pos;
  }
  byte(): number {
    if (this.pos >= this.bytes.length) throw new Error('shared-binary: truncated wasm module');
    return this.bytes[this.pos++]!;
  }
  /** Unsigned LEB128 (≤ 32 bits). */
  u32(): number {
    let result = 0;
    let shift = 0;
    for (;;) {
      const b = this.byte();
      result += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return result;
      shift += 7;
      if (shift > 35) throw new Error('shared-binary: bad LEB128');
    }
  }
  skip(n: number): void {
    this.pos += n;
  }
}

function leb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n = Math.floor(n / 128);
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}

/** Skips a limits record (table or memory) and returns its flags byte. */
function skipLimits(r: Reader): number {
  const flags = r.byte();
  r.u32(); // minimum
  if (flags & 1) r.u32(); // maximum
  return flags;
}

/**
 * Returns a copy of `wasm` whose imported memory is declared shared with maximum `maxPages` (default
 * 65536, so any shared memory the host creates matches). Throws if the module imports no memory or its
 * memory is 64-bit.
 */
export function toSharedMemoryBinary(wasm: Uint8Array, maxPages = MAX_PAGES): Uint8Array<ArrayBuffer> {
  const r = new Reader(wasm, 8); // after magic + version
  while (r.pos < wasm.length) {
    const sectionStart = r.pos;
    const id = r.byte();
    const size = r.u32();
    const payloadStart = r.pos;
    if (id !== SECTION_IMPORT) {
      r.skip(size);
      continue;
    }
    const count = r.u32();
    for (let i = 0; i < count; i++) {
      r.skip(r.u32()); // module name
      r.skip(r.u32()); // field name
      const kind = r.byte();
      if (kind === KIND_FUNC) r.u32();
      else if (kind === KIND_TABLE) {
        r.byte(); // reftype
        skipLimits(r);
      } else if (kind === KIND_GLOBAL) {
        r.byte(); // valtype
        r.byte(); // mutability
      } else if (kind === KIND_TAG) {
        r.byte();
        r.u32();
      } else if (kind === KIND_MEMORY) {
        const limitsStart = r.pos;
        const flags = r.byte();
        if (flags & 4) throw new Error('shared-binary: 64-bit memories are not supported');
        const min = r.u32();
        if (flags & 1) r.u32();
        const limitsEnd = r.pos;
        const limits = [0x03, ...leb(min), ...leb(maxPages)]; // 0x03: has maximum, shared
        const payload = [
          ...wasm.subarray(payloadStart, limitsStart),
          ...limits,
          ...wasm.subarray(limitsEnd, payloadStart + size),
        ];
        const out = new Uint8Array(
          sectionStart +
            1 +
            leb(payload.length).length +
            payload.length +
            (wasm.length - payloadStart - size),
        );
        let o = 0;
        out.set(wasm.subarray(0, sectionStart), o);
        o += sectionStart;
        out[o++] = SECTION_IMPORT;
        const sizeBytes = leb(payload.length);
        out.set(sizeBytes, o);
        o += sizeBytes.length;
        out.set(payload, o);
        o += payload.length;
        out.set(wasm.subarray(payloadStart + size), o);
        return out;
      } else {
        throw new Error(`shared-binary: unknown import kind ${kind}`);
      }
    }
    break; // import section seen, no memory import in it
  }
  throw new Error('shared-binary: the module imports no memory');
}
