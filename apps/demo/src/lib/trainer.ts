import type { Event, LandscapeResult, ReadyInfo, Reply, Request, TrainConfig } from '../worker/protocol.js';

type Listener = (e: Event) => void;
type Pending = { resolve: (v: unknown) => void; reject: (e: Error) => void };
type WithoutId<T> = T extends { id: number } ? Omit<T, 'id'> : never;

/**
 * The page side of the training worker: request/response calls (`init`, `run`, `save` …) and an
 * event stream (metrics, decision boundary, …). One instance lives for the whole app so training
 * keeps going while the user looks at another page.
 */
export class TrainerClient {
  private readonly worker: Worker;
  private readonly pending = new Map<number, Pending>();
  private readonly listeners = new Set<Listener>();
  private nextId = 1;
  /** The last `ready` info and latest events, for pages that attach later. */
  ready: ReadyInfo | null = null;
  running = false;
  step = 0;

  constructor() {
    this.worker = new Worker(new URL('../worker/train.worker.ts', import.meta.url), { type: 'module' });
    this.worker.onmessage = (ev: MessageEvent<Event | Reply>) => this.receive(ev.data);
    this.worker.onerror = (ev) =>
      this.emit({ type: 'error', message: `training worker failed: ${ev.message}` });
  }

  private receive(msg: Event | Reply): void {
    if (msg.type === 'done' || msg.type === 'failed') {
      const p = this.pending.get(msg.id);
      this.pending.delete(msg.id);
      if (msg.type === 'done') p?.resolve(msg.value);
      else p?.reject(new Error(msg.message));
      return;
    }
    if (msg.type === 'ready') this.ready = msg.info;
    if (msg.type === 'running') {
      this.running = msg.running;
      this.step = msg.step;
    }
    if (msg.type === 'metrics') this.step = msg.metrics.step;
    this.emit(msg);
  }

  private emit(e: Event): void {
    for (const l of this.listeners) l(e);
  }

  /** Subscribes to worker events; returns the unsubscribe function. */
  on(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private call<T>(req: WithoutId<Request>, transfer: Transferable[] = []): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.worker.postMessage({ ...req, id }, transfer);
    });
  }

  init(config: TrainConfig): Promise<void> {
    return this.call({ type: 'init', config });
  }
  /** Starts (or continues) training; stops by itself at step `until` when given. */
  run(until?: number): Promise<void> {
    return this.call({ type: 'run', until });
  }
  pause(): Promise<void> {
    return this.call({ type: 'pause' });
  }
  save(): Promise<ArrayBuffer> {
    return this.call({ type: 'save' });
  }
  load(buffer: ArrayBuffer): Promise<number> {
    return this.call({ type: 'load', buffer }, [buffer]);
  }
  evaluate(): Promise<{
    step: number;
    train: { loss: number; accuracy: number };
    val: { loss: number; accuracy: number };
  }> {
    return this.call({ type: 'evaluate' });
  }
  landscape(opts: {
    span: number;
    lineRes: number;
    planeRes: number;
    seed: number;
  }): Promise<LandscapeResult> {
    return this.call({ type: 'landscape', ...opts });
  }
}

let instance: TrainerClient | null = null;

/** The app's one training worker (made on first use). */
export function trainer(): TrainerClient {
  instance ??= new TrainerClient();
  return instance;
}
