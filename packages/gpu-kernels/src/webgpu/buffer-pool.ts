/**
 * A pool of GPUBuffers by size class. Freed buffers are kept (up to `maxPooledBytes`) and handed out
 * again for requests of the same class, so a training step that allocates the same shapes every
 * iteration creates no buffers after the first.
 *
 * Size classes: at least `MIN_BYTES`; powers of two up to 1 MiB; above that, multiples of 1/8 of the
 * power of two (so at most 12.5 % of a large buffer is slack).
 *
 * Upload hazard: `queue.writeBuffer` runs on the queue *before* the commands still recorded in the
 * backend's open batch (which is submitted only once every pipeline it uses has compiled, so it may
 * stay open across awaits). A buffer freed while that batch still references it must not be filled
 * by writeBuffer until the batch is submitted, or the earlier commands would read the new contents.
 * Such buffers are held as "dirty" until `onSubmit()`: they may serve requests that will only be
 * written by later commands (kernel outputs), never `clean` requests (uploads).
 */

export const MIN_BYTES = 256;

export function sizeClass(bytes: number): number {
  const b = Math.max(bytes, MIN_BYTES);
  const p = 2 ** Math.ceil(Math.log2(b));
  if (p <= 1 << 20) return p;
  const step = p / 8;
  return Math.ceil(b / step) * step;
}

export interface PoolStats {
  /** Buffers handed out and not yet returned. */
  liveBuffers: number;
  /** Their total size (size classes, not requested bytes). */
  liveBytes: number;
  /** Buffers kept for reuse. */
  pooledBuffers: number;
  pooledBytes: number;
  /** Buffers created over the pool's life (reuse shows as this staying flat). */
  created: number;
  /** Requests served from the pool. */
  reused: number;
}

export class BufferPool {
  private readonly clean = new Map<number, GPUBuffer[]>();
  private readonly dirty = new Map<number, GPUBuffer[]>();
  private readonly stats: PoolStats = {
    liveBuffers: 0,
    liveBytes: 0,
    pooledBuffers: 0,
    pooledBytes: 0,
    created: 0,
    reused: 0,
  };

  constructor(
    private readonly device: GPUDevice,
    private readonly usage: GPUBufferUsageFlags,
    private readonly label: string,
    private readonly maxPooledBytes = 512 * 2 ** 20,
  ) {}

  /**
   * A buffer of at least `bytes` (its size class). `clean`: it will be written by writeBuffer/mapping,
   * so it must not be referenced by unsubmitted commands.
   */
  acquire(bytes: number, clean: boolean): GPUBuffer {
    const cls = sizeClass(bytes);
    // Kernel outputs take dirty buffers first, leaving clean ones for uploads (which cannot use a
    // dirty one): otherwise a step's uploads find the clean list drained by its outputs and create
    // buffers until the next submit.
    const buf = clean
      ? this.take(this.clean, cls)
      : (this.take(this.dirty, cls) ?? this.take(this.clean, cls));
    this.stats.liveBuffers++;
    this.stats.liveBytes += cls;
    if (buf) {
      this.stats.reused++;
      return buf;
    }
    this.stats.created++;
    return this.device.createBuffer({ size: cls, usage: this.usage, label: `${this.label} ${cls}` });
  }

  /** Returns a buffer. `inFlight`: commands recorded but not submitted may still use it. */
  release(buf: GPUBuffer, inFlight: boolean): void {
    const cls = buf.size;
    this.stats.liveBuffers--;
    this.stats.liveBytes -= cls;
    if (this.stats.pooledBytes + cls > this.maxPooledBytes) {
      if (inFlight) {
        // Destroying now would invalidate the pending commands; keep it until the submit.
        this.put(this.dirty, buf);
        return;
      }
      buf.destroy();
      return;
    }
    this.put(inFlight ? this.dirty : this.clean, buf);
  }

  /** The open encoder was submitted: every dirty buffer is clean now. */
  onSubmit(): void {
    for (const [cls, list] of this.dirty) {
      for (const buf of list) {
        this.stats.pooledBuffers--;
        this.stats.pooledBytes -= cls;
        if (this.stats.pooledBytes + cls > this.maxPooledBytes) buf.destroy();
        else this.put(this.clean, buf);
      }
    }
    this.dirty.clear();
  }

  /** Destroys every pooled buffer (live ones belong to their owners). */
  drain(): void {
    for (const m of [this.clean, this.dirty]) {
      for (const list of m.values()) for (const b of list) b.destroy();
      m.clear();
    }
    this.stats.pooledBuffers = 0;
    this.stats.pooledBytes = 0;
  }

  snapshot(): PoolStats {
    return { ...this.stats };
  }

  private take(m: Map<number, GPUBuffer[]>, cls: number): GPUBuffer | undefined {
    const list = m.get(cls);
    const buf = list?.pop();
    if (buf) {
      this.stats.pooledBuffers--;
      this.stats.pooledBytes -= cls;
    }
    return buf;
  }

  private put(m: Map<number, GPUBuffer[]>, buf: GPUBuffer): void {
    const list = m.get(buf.size);
    if (list) list.push(buf);
    else m.set(buf.size, [buf]);
    this.stats.pooledBuffers++;
    this.stats.pooledBytes += buf.size;
  }
}
