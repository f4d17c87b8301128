/**
 * A JS-side allocator over a WebAssembly.Memory, above the module's static data (`heap_base`).
 *
 * - Every region is 64-byte aligned and a multiple of 64 bytes (cache lines; SIMD loads never straddle).
 * - Free blocks are kept in segregated size classes (TLSF-like: 4 sub-classes per power of two) and
 *   served best-fit within the first class that can hold the request; a block is split when the rest is
 *   worth keeping, and a freed block is coalesced with free neighbours on both sides at once (boundary
 *   maps by start and by end), so a steady-state alloc/free loop reuses the same bytes and never grows.
 * - When nothing fits, the heap's top is extended (merging a free block that ends at the top) and the
 *   memory grows by whole pages; `onGrow` lets the owner re-make its typed-array views.
 * - All bookkeeping lives in JS maps: kernels may scribble over any byte of a region without corrupting it.
 */

export const ALIGN = 64;
const PAGE = 65536;
const SUB_BITS = 2; // 4 sub-classes per power of two
const SUB = 1 << SUB_BITS;

export interface AllocatorStats {
  /** Bytes handed out and not yet freed (after rounding up to 64). */
  readonly bytesInUse: number;
  /** The most `bytesInUse` has ever been. */
  readonly peakBytesInUse: number;
  /** Bytes of linear memory the heap may use without growing (memory size − heap base). */
  readonly capacity: number;
  /** Bytes between the heap base and the heap's top (used + free blocks below the top). */
  readonly heapSize: number;
  /** Bytes in free blocks below the top. */
  readonly freeBytes: number;
  readonly liveAllocations: number;
  readonly freeBlocks: number;
  /** Number of times the memory grew. */
  readonly grows: number;
}

function alignUp(n: number, a: number): number {
  return Math.ceil(n / a) * a;
}

/** Size class of a (64-aligned, > 0) block size. Classes grow geometrically with SUB steps per octave. */
function sizeClass(size: number): number {
  const units = size / ALIGN; // ≥ 1
  if (units < SUB) return units; // 1..3 exact
  const log = 31 - Math.clz32(units);
  const sub = (units >>> (log - SUB_BITS)) & (SUB - 1);
  return (log - SUB_BITS + 1) * SUB + sub;
}

export class LinearAllocator {
  readonly memory: WebAssembly.Memory;
  readonly base: number;
  private top: number;
  private readonly maxBytes: number;
  /** live allocations: start → size */
  private readonly live = new Map<number, number>();
  /** free blocks: start → size and end → start */
  private readonly freeByStart = new Map<number, number>();
  private readonly freeByEnd = new Map<number, number>();
  /** size class → starts of free blocks in it */
  private readonly bins: Set<number>[] = [];
  private inUse = 0;
  private peak = 0;
  private growCount = 0;
  private readonly onGrow: (() => void) | undefined;

  /**
   * @param memory the module's memory
   * @param base first usable byte (the module's heap base); rounded up to 64
   * @param options.maxBytes cap on the memory size (default: 4 GiB − 64 KiB, wasm32's limit)
   * @param options.onGrow called after the memory grew (re-make typed-array views)
   */
  constructor(
    memory: WebAssembly.Memory,
    base: number,
    options: { maxBytes?: number; onGrow?: () => void } = {},
  ) {
    this.memory = memory;
    this.base = alignUp(base, ALIGN);
    this.top = this.base;
    this.maxBytes = options.maxBytes ?? 65535 * PAGE;
    this.onGrow = options.onGrow;
  }

  /** Allocates `bytes` (≥ 0; 0 gives a distinct 64-byte region), 64-byte aligned. Returns the address. */
  alloc(bytes: number): number {
    if (!(bytes >= 0) || !Number.isFinite(bytes)) throw new RangeError(`alloc: bad size ${bytes}`);
    const size = Math.max(ALIGN, alignUp(bytes, ALIGN));
    let start = this.takeFree(size);
    if (start < 0) start = this.takeTop(size);
    this.live.set(start, size);
    this.inUse += size;
    if (this.inUse > this.peak) this.peak = this.inUse;
    return start;
  }

  /** Frees a region returned by `alloc`. Freeing anything else throws. */
  free(ptr: number): void {
    const size = this.live.get(ptr);
    if (size === undefined) throw new Error(`free: ${ptr} is not a live allocation`);
    this.live.delete(ptr);
    this.inUse -= size;
    let start = ptr;
    let end = ptr + size;
    // coalesce with the free block ending where this one starts, and the one starting where it ends
    const before = this.freeByEnd.get(start);
    if (before !== undefined) {
      this.removeFree(before);
      start = before;
    }
    const afterSize = this.freeByStart.get(end);
    if (afterSize !== undefined) {
      this.removeFree(end);
      end += afterSize;
    }
    if (end === this.top) {
      this.top = start; // give the tail back to the top
    } else {
      this.addFree(start, end - start);
    }
  }

  /** The size (rounded) of a live allocation, or undefined. */
  sizeOf(ptr: number): number | undefined {
    return this.live.get(ptr);
  }

  stats(): AllocatorStats {
    let freeBytes = 0;
    for (const s of this.freeByStart.values()) freeBytes += s;
    return {
      bytesInUse: this.inUse,
      peakBytesInUse: this.peak,
      capacity: this.memory.buffer.byteLength - this.base,
      heapSize: this.top - this.base,
      freeBytes,
      liveAllocations: this.live.size,
      freeBlocks: this.freeByStart.size,
      grows: this.growCount,
    };
  }

  // ---- internals -----------------------------------------------------------------------------------

  private addFree(start: number, size: number): void {
    this.freeByStart.set(start, size);
    this.freeByEnd.set(start + size, start);
    const c = sizeClass(size);
    let bin = this.bins[c];
    if (!bin) {
      bin = new Set();
      this.bins[c] = bin;
    }
    bin.add(start);
  }

  private removeFree(start: number): void {
    const size = this.freeByStart.get(start)!;
    this.freeByStart.delete(start);
    this.freeByEnd.delete(start + size);
    this.bins[sizeClass(size)]!.delete(start);
  }

  /** Best fit in the request's own class, else the first block of any larger class. */
  private takeFree(size: number): number {
    const c0 = sizeClass(size);
    let found = -1;
    let foundSize = Infinity;
    const own = this.bins[c0];
    if (own) {
      for (const s of own) {
        const bs = this.freeByStart.get(s)!;
        if (bs >= size && bs < foundSize) {
          found = s;
          foundSize = bs;
          if (bs === size) break;
        }
      }
    }
    if (found < 0) {
      for (let c = c0 + 1; c < this.bins.length; c++) {
        const bin = this.bins[c];
        if (bin && bin.size > 0) {
          // every block in a higher class is ≥ size; take the smallest of that class
          for (const s of bin) {
            const bs = this.freeByStart.get(s)!;
            if (bs < foundSize) {
              found = s;
              foundSize = bs;
            }
          }
          break;
        }
      }
    }
    if (found < 0) return -1;
    this.removeFree(found);
    if (foundSize > size) this.addFree(found + size, foundSize - size);
    return found;
  }

  private takeTop(size: number): number {
    // a free block that ends at the top can be extended instead of leaving it stranded
    let start = this.top;
    const tail = this.freeByEnd.get(this.top);
    if (tail !== undefined) {
      this.removeFree(tail);
      start = tail;
    }
    const end = start + size;
    this.ensureCapacity(end);
    this.top = end;
    return start;
  }

  private ensureCapacity(end: number): void {
    const have = this.memory.buffer.byteLength;
    if (end <= have) return;
    if (end > this.maxBytes) {
      throw new RangeError(
        `wasm heap exhausted: need ${end} bytes of linear memory, limit ${this.maxBytes} (in use ${this.inUse})`,
      );
    }
    // grow by at least 1/8 of the current size to keep the number of grows (and view re-creation) small
    const want = Math.min(this.maxBytes, Math.max(end, have + Math.floor(have / 8)));
    const pages = Math.ceil((want - have) / PAGE);
    this.memory.grow(pages);
    this.growCount++;
    this.onGrow?.();
  }
}
