import './style.css';

/** A page mounts into the main element and returns its cleanup. */
type Page = (root: HTMLElement) => (() => void) | undefined;

const PAGES: Record<string, () => Promise<Page>> = {
  train: async () => (await import('./pages/train.js')).mountTrain,
  playground: async () => (await import('./pages/playground.js')).mountPlayground,
  landscape: async () => (await import('./pages/landscape.js')).mountLandscape,
  bench: async () => (await import('./pages/bench.js')).mountBench,
};

let cleanup: (() => void) | undefined;
let navigation = 0;

async function route(): Promise<void> {
  const id = location.hash.replace(/^#\/?/, '').split('?')[0] || 'train';
  const name = id in PAGES ? id : 'train';
  const token = ++navigation;
  const mount = await PAGES[name]();
  if (token !== navigation) return;
  cleanup?.();
  const root = document.getElementById('page')!;
  root.replaceChildren();
  root.dataset.page = name;
  for (const a of document.querySelectorAll<HTMLAnchorElement>('#nav a'))
    a.classList.toggle('active', a.dataset.page === name);
  cleanup = mount(root);
  root.dataset.ready = 'true';
}

window.addEventListener('hashchange', () => void route());
void route();
