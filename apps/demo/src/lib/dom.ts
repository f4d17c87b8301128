import type { Setting } from '../registry/types.js';

type Child = Node | string | null | undefined | false;

/** Creates an element: `h('button', { class: 'x', onclick }, 'text')`. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, unknown> = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v as EventListener);
    else if (k in el && k !== 'list' && typeof v !== 'string')
      (el as unknown as Record<string, unknown>)[k] = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children) if (c !== null && c !== undefined && c !== false) el.append(c);
  return el;
}

/** Formats a number for labels: 3 significant digits, exponent form for tiny/huge values. */
export function fmt(v: number, digits = 3): string {
  if (!Number.isFinite(v)) return String(v);
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a < 1e-3 || a >= 1e5) return v.toExponential(digits - 1);
  return Number(v.toPrecision(digits)).toString();
}

export function fmtBytes(b: number): string {
  if (b < 1024) return `${b} B`;
  if (b < 1024 ** 2) return `${(b / 1024).toFixed(1)} KiB`;
  return `${(b / 1024 ** 2).toFixed(2)} MiB`;
}

/**
 * A labeled slider + number box for a Setting; log settings slide over log10 of the value.
 * Calls `onChange` with the new value on every input.
 */
export function settingControl(s: Setting, value: number, onChange: (v: number) => void): HTMLElement {
  const toSlider = (v: number) => (s.log ? Math.log10(Math.max(v, s.min)) : v);
  const fromSlider = (x: number) => (s.log ? 10 ** x : x);
  const lo = toSlider(s.min);
  const hi = toSlider(s.max);
  const slider = h('input', {
    type: 'range',
    min: String(lo),
    max: String(hi),
    step: s.int ? '1' : String((hi - lo) / 200),
    value: String(toSlider(value)),
    'data-setting': s.key,
  });
  const box = h('input', { type: 'number', value: String(value), step: 'any', 'data-setting-value': s.key });
  const set = (v: number, from: 'slider' | 'box') => {
    if (!Number.isFinite(v)) return;
    if (s.int) v = Math.round(v);
    if (from === 'slider') box.value = String(Number(v.toPrecision(4)));
    else slider.value = String(toSlider(v));
    onChange(v);
  };
  slider.addEventListener('input', () => set(fromSlider(Number(slider.value)), 'slider'));
  box.addEventListener('change', () => set(Number(box.value), 'box'));
  return h('label', { class: 'setting' }, h('span', {}, s.label), slider, box);
}

/** A <select> over entries with an availability; unavailable ones are disabled with their reason. */
export function entrySelect(
  items: { id: string; label: string; available: boolean; reason?: string }[],
  value: string,
  onChange: (id: string) => void,
  name: string,
): HTMLSelectElement {
  const sel = h(
    'select',
    { name, 'data-select': name, onchange: () => onChange(sel.value) },
    ...items.map((it) =>
      h(
        'option',
        { value: it.id, disabled: !it.available, selected: it.id === value, title: it.reason },
        it.available ? it.label : `${it.label} — ${it.reason ?? 'unavailable'}`,
      ),
    ),
  );
  return sel;
}
