import { describe, expect, it } from 'vitest';
import { ALIGN, LinearAllocator } from '../src/index.js';
import { createModule, rng } from './helpers.js';

describe('LinearAllocator', () => {
  it('hands out 64-byte aligned, non-overlapping regions and reuses freed ones', () => {
    const mem = new WebAssembly.Memory({ initial: 1, maximum: 1024 });
    const a = new LinearAllocator(mem, 1000);
    expect(a.base % ALIGN).toBe(0);
    const p = [a.alloc(1), a.alloc(100), a.alloc(0), a.alloc(64)];
    for (const q of p) expect(q % ALIGN).toBe(0);
    expect(new Set(p).size).toBe(4);
    expect(p[1]! - p[0]!).toBe(64);
    a.free(p[1]!);
    expect(a.alloc(128)).toBe(p[1]); // exact fit reused
    a.free(p[0]!);
    a.free(p[2]!);
    expect(() => a.free(p[2]!)).toThrow(/not a live allocation/);
    expect(a.stats().liveAllocations).toBe(2);
  });

  it('coalesces neighbours on free and gives the top back', () => {
    const mem = new WebAssembly.Memory({ initial: 1, maximum: 1024 });
    const a = new LinearAllocator(mem, 0);
    const p = Array.from({ length: 5 }, () => a.alloc(64));
    a.free(p[1]!);
    a.free(p[3]!);
    a.free(p[2]!); // merges 1..3 into one 192-byte block
    expect(a.stats().freeBlocks).toBe(1);
    expect(a.alloc(192)).toBe(p[1]);
    a.free(p[4]!);
    expect(a.stats().heapSize).toBe(4 * 64); // the tail went back to the top
  });

  it('grows memory when needed, then reaches a steady state with no growth', () => {
    const mem = new WebAssembly.Memory({ initial: 1, maximum: 4096 });
    let grows = 0;
    const a = new LinearAllocator(mem, 64, { onGrow: () => grows++ });
    const r = rng(1);
    const live: number[] = [];
    // warm-up: a training-step-like pattern of mixed sizes
    const step = () => {
      for (let i = 0; i < 40; i++) live.push(a.alloc(Math.floor(r(1, 1 << 18))));
      while (live.length > 10) a.free(live.splice(Math.floor(r(0, live.length)), 1)[0]!);
    };
    for (let i = 0; i < 50; i++) step();
    expect(grows).toBeGreaterThan(0);
    const before = a.stats();
    const growsBefore = grows;
    // steady state: alloc/free of the same sizes
    const sizes = [1000, 4096, 65536, 300000, 17, 64];
    for (let it = 0; it < 1000; it++) {
      const ps = sizes.map((s) => a.alloc(s));
      for (const p of ps) a.free(p);
    }
    expect(grows).toBe(growsBefore);
    expect(a.stats().capacity).toBe(before.capacity);
    expect(a.stats().bytesInUse).toBe(before.bytesInUse);
    expect(a.stats().peakBytesInUse).toBeGreaterThanOrEqual(before.bytesInUse);
  });

  it('throws a clear error when the cap is reached', () => {
    const mem = new WebAssembly.Memory({ initial: 1, maximum: 16 });
    const a = new LinearAllocator(mem, 0, { maxBytes: 4 * 65536 });
    expect(() => a.alloc(5 * 65536)).toThrow(/heap exhausted/);
  });

  it('KernelModule re-makes its views after growth', () => {
    const km = createModule();
    const p = km.allocF32(4, [1, 2, 3, 4]);
    const before = km.memory.buffer.byteLength;
    const big = km.alloc(before * 2); // forces growth
    expect(km.memory.buffer.byteLength).toBeGreaterThan(before);
    expect(Array.from(km.readF32(p, 4))).toEqual([1, 2, 3, 4]);
    expect(km.f32.buffer).toBe(km.memory.buffer);
    km.free(big);
    const s = km.memoryStats();
    expect(s.grows).toBeGreaterThan(0);
  });
});
