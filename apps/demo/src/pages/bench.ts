import { hasRelaxedSimd, hasWasmSimd } from '@descent/wasm-kernels';
import { BarChart } from '../lib/charts.js';
import { fmt, h } from '../lib/dom.js';
import { describeAdapter } from '../lib/gpu.js';
import { hashParams } from '../lib/params.js';
import { BACKENDS } from '../registry/backends.js';
import type { BenchEvent, BenchRequest } from '../worker/bench.worker.js';

type Result = Extract<BenchEvent, { type: 'result' }>;

/**
 * Benchmarks: times matmul, elementwise ops, softmax and a whole MLP training step on every backend
 * this browser offers, in a worker, and shows the table and bar charts next to the machine's info.
 */
export function mountBench(root: HTMLElement): () => void {
  const q = hashParams();
  const size = (q.get('size') === 'full' ? 'full' : 'quick') as BenchRequest['size'];
  const envEl = h('div', { class: 'panel', id: 'bench-env' }, h('p', { class: 'note' }, 'probing…'));
  const runBtn = h('button', { class: 'primary', id: 'run-bench', onclick: () => start() }, 'Run benchmarks');
  const sizeSel = h(
    'select',
    { 'data-select': 'size' },
    h('option', { value: 'quick', selected: size === 'quick' }, 'quick (small sizes, ~10 s)'),
    h('option', { value: 'full', selected: size === 'full' }, 'full (matmul to 512, 1M elements)'),
  );
  const status = h('p', { class: 'note', id: 'bench-status' });
  const tableEl = h('table', { id: 'bench-table' });
  const infoEl = h('div', { class: 'note', id: 'bench-info' });
  const msBox = h('div', { class: 'chart', id: 'bench-ms' });
  const gfBox = h('div', { class: 'chart', id: 'bench-gflops' });
  root.append(
    h(
      'div',
      { class: 'layout' },
      h(
        'div',
        {},
        envEl,
        h(
          'div',
          { class: 'panel', style: 'margin-top: 0.8rem' },
          h('h2', {}, 'Run'),
          h('label', { class: 'field' }, h('span', {}, 'size'), sizeSel),
          h('div', { class: 'buttons' }, runBtn),
          status,
          h(
            'p',
            { class: 'note' },
            'Each time is the median of 5 batches, each batch ended by reading the result back (so WebGPU’s queued work is inside the timing). Other tabs and programs share the machine: compare backends measured in the same run.',
          ),
        ),
      ),
      h(
        'div',
        {},
        h('div', { class: 'panel' }, tableEl, infoEl),
        h('div', { class: 'charts wide', style: 'margin-top: 0.8rem' }, msBox, gfBox),
      ),
    ),
  );

  const msChart = new BarChart(msBox, { title: 'time per call (ms, log scale)', yLabel: 'ms', log: true });
  const gfChart = new BarChart(gfBox, { title: 'matmul GFLOP/s', yLabel: 'GFLOP/s' });
  let worker: Worker | null = null;
  let available: string[] = [];
  const results: Result[] = [];
  const backendInfo = new Map<string, Record<string, unknown> | string>();

  void (async () => {
    const gpu = await describeAdapter();
    for (const b of BACKENDS) if ((await b.probe()).available) available.push(b.id);
    const row = (k: string, v: string) =>
      h('tr', {}, h('th', {}, k), h('td', { style: 'text-align:left' }, v));
    envEl.replaceChildren(
      h('h2', {}, 'This browser'),
      h(
        'table',
        {},
        row('CPU threads', String(navigator.hardwareConcurrency ?? '?')),
        row('wasm SIMD', hasWasmSimd() ? 'yes' : 'no'),
        row('wasm relaxed SIMD', hasRelaxedSimd() ? 'yes' : 'no'),
        row('cross-origin isolated', String(globalThis.crossOriginIsolated)),
        row('WebGPU adapter', gpu.text),
        row('WebGPU features', gpu.features.join(', ') || '–'),
        row('backends', available.join(', ')),
        row('user agent', navigator.userAgent),
      ),
    );
    envEl.dataset.ready = 'true';
    if (q.get('autorun')) start(q.get('backends')?.split(',') ?? available);
  })();

  const render = () => {
    const cases = [...new Set(results.map((r) => r.label))];
    const backends = [...new Set(results.map((r) => r.backend))];
    const find = (c: string, b: string) => results.find((r) => r.label === c && r.backend === b);
    tableEl.replaceChildren(
      h(
        'tr',
        {},
        h('th', {}, 'case'),
        ...backends.map((b) => h('th', {}, `${b} ms`)),
        ...backends.map((b) => h('th', {}, `${b} GFLOP/s | GB/s`)),
      ),
      ...cases.map((c) =>
        h(
          'tr',
          { 'data-case': c },
          h('td', {}, c),
          ...backends.map((b) => {
            const r = find(c, b);
            return h(
              'td',
              { 'data-backend': b, 'data-ms': r ? String(r.ms) : undefined },
              r ? fmt(r.ms) : '…',
            );
          }),
          ...backends.map((b) => {
            const r = find(c, b);
            return h('td', {}, r?.gflops ? `${fmt(r.gflops)} GFLOP/s` : r?.gbps ? `${fmt(r.gbps)} GB/s` : '');
          }),
        ),
      ),
    );
    infoEl.replaceChildren(
      ...[...backendInfo].map(([b, info]) =>
        h(
          'details',
          {},
          h('summary', {}, `${b}: ${typeof info === 'string' ? info : 'backend info'}`),
          typeof info === 'string' ? null : h('pre', { class: 'info' }, JSON.stringify(info, null, 1)),
        ),
      ),
    );
    // The charts name cases by their short ids (matmul-64, add-65536 …); the table has the long labels.
    const ids = [...new Set(results.map((r) => r.case))];
    const byId = (c: string, b: string) => results.find((r) => r.case === c && r.backend === b);
    msChart.set(
      ids,
      backends.map((b) => ({ label: b, values: ids.map((c) => byId(c, b)?.ms ?? null) })),
    );
    const mm = ids.filter((c) => c.startsWith('matmul'));
    gfChart.set(
      mm,
      backends.map((b) => ({ label: b, values: mm.map((c) => byId(c, b)?.gflops ?? null) })),
    );
  };

  function start(backends = available): void {
    worker?.terminate();
    results.length = 0;
    backendInfo.clear();
    root.dataset.done = 'false';
    worker = new Worker(new URL('../worker/bench.worker.ts', import.meta.url), { type: 'module' });
    runBtn.disabled = true;
    status.textContent = `running on ${backends.join(', ')}…`;
    worker.onmessage = (ev: MessageEvent<BenchEvent>) => {
      const e = ev.data;
      if (e.type === 'backend') backendInfo.set(e.backend, e.error ? `failed: ${e.error}` : e.info);
      else if (e.type === 'result') results.push(e);
      else {
        runBtn.disabled = false;
        status.textContent = `done: ${results.length} measurements`;
        root.dataset.done = 'true';
        worker?.terminate();
        worker = null;
      }
      render();
    };
    worker.onerror = (ev) => {
      status.textContent = `benchmark worker failed: ${ev.message}`;
      runBtn.disabled = false;
    };
    worker.postMessage({
      type: 'run',
      backends,
      size: sizeSel.value as BenchRequest['size'],
    } satisfies BenchRequest);
  }

  return () => {
    worker?.terminate();
    msChart.destroy();
    gfChart.destroy();
    available = [];
  };
}
