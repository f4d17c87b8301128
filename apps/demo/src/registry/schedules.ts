import { constant, cosine, linear, oneCycle, type Schedule, stepDecay } from '@descent/optim';

/**
 * Learning-rate schedules offered on the Train page, from @descent/optim's composable schedules
 * (a schedule gives the factor applied to the optimizer's base learning rate at step t).
 */
export interface ScheduleEntry {
  id: string;
  label: string;
  /** The schedule for a run of `total` steps. */
  make(total: number): Schedule;
}

export const SCHEDULES: ScheduleEntry[] = [
  { id: 'constant', label: 'constant', make: () => constant() },
  { id: 'cosine', label: 'cosine decay', make: (T) => cosine({ totalSteps: Math.max(1, T) }) },
  {
    id: 'warmup-cosine',
    label: 'linear warm-up (5%) + cosine',
    make: (T) => cosine({ totalSteps: Math.max(2, T), warmupSteps: Math.max(1, Math.round(0.05 * T)) }),
  },
  { id: 'onecycle', label: 'one-cycle', make: (T) => oneCycle({ totalSteps: Math.max(2, T) }) },
  {
    id: 'step',
    label: 'step decay (×0.1 every third)',
    make: (T) => stepDecay(Math.max(1, Math.round(T / 3)), 0.1),
  },
  { id: 'linear', label: 'linear decay to 0', make: (T) => linear(1, 0, Math.max(1, T)) },
];

export function scheduleById(id: string): ScheduleEntry {
  const s = SCHEDULES.find((x) => x.id === id);
  if (!s) throw new Error(`unknown schedule '${id}' (known: ${SCHEDULES.map((x) => x.id).join(', ')})`);
  return s;
}
