/**
 * descent's wasm kernels called directly through `KernelModule` (no core dispatch): what the kernels
 * themselves do, one thread. Also the memory-copy roofline measured inside the same kind of memory.
 */
import { KernelModule } from '@descent/wasm-kernels';
import type { BenchCase, Outputs } from '../cases.js';
import type { Impl, Prepared } from './types.js';

export function wasmKernelsImpl(): Impl {
  let km: KernelModule | undefined;
  const mod = () => {
    if (!km) throw new Error('wasm kernels: init() was not called');
    return km;
  };
  return {
    id: 'descent-wasm-kernels-1t',
    library: 'descent',
    backend: 'wasm kernels, 1 thread (KernelModule)',
    threads: 1,
    nominal: { gflops: 30, gbps: 5 },
    async init() {
      // The 1-thread row: an unshared memory (threads would need a shared one and a worker script).
      km = await KernelModule.create({ initialBytes: 64 << 20, threads: 1 });
    },
    supports(c) {
      if (c.spec.kind === 'ffn' || c.spec.kind === 'resblock')
        return 'needs autograd: measured through the wasm backend once it exists';
      return true;
    },
    async prepare(c, inputs) {
      const k = mod();
      const ptrs: Record<string, number> = {};
      for (const [name, v] of Object.entries(inputs))
        ptrs[name] = v instanceof Int32Array ? k.allocI32(v.length, v) : k.allocF32(v.length, v);
      const outs: Record<string, [number, number]> = {};
      const out = (name: string, n: number) => {
        outs[name] = [k.allocF32(n), n];
        return outs[name][0];
      };
      let run: () => void;
      const s = c.spec;
      switch (s.kind) {
        case 'matmul': {
          const y = out('y', s.m * s.n);
          run = () => k.matmul(ptrs.a, ptrs.b, y, s.m, s.n, s.k);
          break;
        }
        case 'conv2d': {
          const y = out('y', s.N * s.H * s.W * s.Cout);
          const g = {
            N: s.N,
            H: s.H,
            W: s.W,
            C: s.C,
            KH: s.KH,
            KW: s.KW,
            Cout: s.Cout,
            strideH: 1,
            strideW: 1,
            padTop: 1,
            padBottom: 1,
            padLeft: 1,
            padRight: 1,
            dilationH: 1,
            dilationW: 1,
            groups: 1,
          };
          run = () => k.conv2d(ptrs.x, ptrs.w, y, g);
          break;
        }
        case 'silu': {
          const y = out('y', s.n);
          run = () => k.unary('silu', ptrs.x, y, s.n, 1);
          break;
        }
        case 'softmax': {
          const y = out('y', s.rows * s.size);
          run = () => k.exports.softmax_f32(ptrs.x, y, s.rows, s.size);
          break;
        }
        case 'softmaxCE': {
          const rowLoss = k.allocF32(s.rows);
          const loss = out('loss', 1);
          const dx = out('dx', s.rows * s.size);
          const dloss = k.allocF32(1, [1 / s.rows]);
          run = () => {
            k.exports.cross_entropy_f32(ptrs.x, ptrs.labels, rowLoss, s.rows, s.size, 0);
            k.reduce('mean', rowLoss, loss, 1, s.rows, 1);
            // d(mean)/d(row loss) = 1/rows for every row: one value with stride 0
            k.exports.cross_entropy_backward_f32(ptrs.x, ptrs.labels, dloss, 0, dx, s.rows, s.size, 0);
          };
          break;
        }
        case 'adamw': {
          const m = out('m', s.n);
          const v = out('v', s.n);
          k.exports.fill32(m, s.n, 0);
          k.exports.fill32(v, s.n, 0);
          outs.p = [ptrs.p, s.n];
          let t = 0;
          run = () => {
            t++;
            k.exports.adamw_f32(
              ptrs.p,
              ptrs.g,
              m,
              v,
              s.n,
              s.lr,
              s.beta1,
              s.beta2,
              s.eps,
              s.weightDecay,
              1 - s.beta1 ** t,
              1 - s.beta2 ** t,
            );
          };
          break;
        }
        default:
          throw new Error(`wasm kernels: no direct path for ${c.id}`);
      }
      const prepared: Prepared = {
        run,
        async outputs() {
          const res: Outputs = {};
          for (const [name, [p, n]] of Object.entries(outs)) res[name] = k.readF32(p, n);
          return res;
        },
        dispose() {
          const freed = new Set<number>();
          for (const p of [...Object.values(ptrs), ...Object.values(outs).map((o) => o[0])])
            if (!freed.has(p)) {
              freed.add(p);
              k.free(p);
            }
          k.releaseWorkspace();
        },
      };
      return prepared;
    },
    info() {
      return { variant: km?.variant, kernels: 'KernelModule (direct calls)' };
    },
    async dispose() {
      km = undefined;
    },
  };
}

/**
 * The roofline for memory-bound cases: `copyWithin` inside a WebAssembly.Memory moving the same number
 * of bytes the op must read + write (a copy of bytes/2 reads bytes/2 and writes bytes/2).
 */
export function memcopyImpl(): Impl {
  let memory: WebAssembly.Memory | undefined;
  return {
    id: 'memcopy',
    library: 'memcopy',
    backend: 'memory copy of the same bytes (wasm memory, 1 thread)',
    threads: 1,
    nominal: { gflops: 0, gbps: 10 },
    roofline: true,
    async init() {},
    supports(c: BenchCase) {
      return c.bytes !== undefined && c.flops === undefined ? true : 'compute-bound case';
    },
    async prepare(c) {
      const half = Math.ceil(c.bytes! / 2 / 65536) * 65536;
      memory = new WebAssembly.Memory({ initial: (2 * half) / 65536 });
      const u8 = new Uint8Array(memory.buffer);
      u8.fill(1, 0, half);
      return {
        run: () => {
          u8.copyWithin(half, 0, half);
        },
        outputs: async () => ({}),
        dispose: () => {
          memory = undefined;
        },
      };
    },
    info: () => ({ method: 'Uint8Array.copyWithin within one WebAssembly.Memory' }),
    async dispose() {},
  };
}
