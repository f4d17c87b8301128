/**
 * Learning-rate schedules offered on the Train page: the factor applied to the optimizer's base
 * learning rate at step t of T.
 */
export interface ScheduleEntry {
  id: string;
  label: string;
  factor(step: number, total: number): number;
}

const WARMUP = 0.05;

export const SCHEDULES: ScheduleEntry[] = [
  { id: 'constant', label: 'constant', factor: () => 1 },
  {
    id: 'cosine',
    label: 'cosine decay',
    factor: (t, T) => 0.5 * (1 + Math.cos(Math.PI * Math.min(1, t / Math.max(1, T)))),
  },
  {
    id: 'warmup-cosine',
    label: 'linear warm-up (5%) + cosine',
    factor(t, T) {
      const w = Math.max(1, Math.round(WARMUP * T));
      if (t < w) return (t + 1) / w;
      return 0.5 * (1 + Math.cos(Math.PI * Math.min(1, (t - w) / Math.max(1, T - w))));
    },
  },
];

export function scheduleById(id: string): ScheduleEntry {
  const s = SCHEDULES.find((x) => x.id === id);
  if (!s) throw new Error(`unknown schedule '${id}' (known: ${SCHEDULES.map((x) => x.id).join(', ')})`);
  return s;
}
