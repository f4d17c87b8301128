/** Messages between the pages and the training worker (structured-clone friendly). */

export interface TrainConfig {
  task: string;
  model: string;
  modelSettings: Record<string, number>;
  optimizer: string;
  optimizerSettings: Record<string, number>;
  backend: string;
  /** LR schedule id (see registry/schedules.ts). */
  schedule: string;
  /** Steps the schedule spans (and where "run" stops by default). */
  steps: number;
  seed: number;
  /** Metrics are read back and posted every this many steps. */
  logEvery: number;
  /** Clip the global gradient norm to this (0: no clipping). */
  clip: number;
}

export interface Metrics {
  step: number;
  loss: number;
  accuracy: number;
  valLoss: number;
  valAccuracy: number;
  lr: number;
  /** Global gradient norm of the last step, before clipping (NaN when not measured). */
  gradNorm: number;
  stepsPerSecond: number;
  /** Bytes of live tensors and how many (from @descent/core's memory()). */
  bytes: number;
  tensors: number;
  /** Bytes the backend itself holds (pools, wasm memory). */
  backendBytes: number;
}

export interface ReadyInfo {
  config: TrainConfig;
  backendName: string;
  backendInfo: Record<string, unknown>;
  parameterCount: number;
  parameterNames: string[];
  classes: number;
  view: 'boundary' | 'digits' | 'none';
  /** Spirals: the training points, to draw under the decision boundary. */
  points?: { x: Float32Array; y: Int32Array };
  /** Image tasks: validation images shown in the prediction grid ([n, h, w] grey values in [0, 1]). */
  digits?: { images: Float32Array; labels: Int32Array; size: number; count: number };
}

export interface LandscapeResult {
  span: number;
  alphas: number[];
  line: number[];
  res: number;
  /** Row-major [res, res]: grid[i * res + j] = L(w0 + α_j·d1 + β_i·d2). */
  grid: number[];
  center: number;
}

export type Request =
  | { type: 'init'; id: number; config: TrainConfig }
  | { type: 'run'; id: number; until?: number }
  | { type: 'pause'; id: number }
  | { type: 'save'; id: number }
  | { type: 'load'; id: number; buffer: ArrayBuffer }
  | { type: 'evaluate'; id: number }
  | { type: 'landscape'; id: number; span: number; lineRes: number; planeRes: number; seed: number };

export type Reply =
  | { type: 'done'; id: number; value?: unknown }
  | { type: 'failed'; id: number; message: string };

export type Event =
  | { type: 'ready'; info: ReadyInfo }
  | { type: 'metrics'; metrics: Metrics }
  | { type: 'running'; running: boolean; step: number }
  | { type: 'boundary'; res: number; extent: number; probs: Float32Array }
  | { type: 'predictions'; preds: Int32Array }
  | { type: 'progress'; done: number; total: number }
  | { type: 'error'; message: string };
