/**
 * What descent's browser tests and the in-browser benchmark share: Debian's Chromium driven headless by
 * playwright-core with one set of flags, the CI rule for a missing browser, a static file server that
 * makes its pages cross-origin isolated, and page-error collection. Dev-only (a private workspace
 * package): no published package depends on it.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { extname, join, resolve, sep } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';

export type { Browser, BrowserContext, Page } from 'playwright-core';

/** Chromium's executable: `DESCENT_CHROMIUM` or `CHROMIUM_PATH` when set, else Debian's /usr/bin/chromium. */
export const chromiumPath: string =
  process.env.DESCENT_CHROMIUM ?? process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Under CI (`CI=true` or `CI=1`) a browser or adapter that is missing fails the run instead of skipping. */
export const isCI: boolean = process.env.CI === 'true' || process.env.CI === '1';

/**
 * The launch flags: no sandbox (CI runs as root), and nothing that phones home or waits on the network
 * (background fetches, component updates, sync, QUIC). `webgpu` adds `--enable-unsafe-webgpu`, without
 * which headless Chromium on Linux offers no adapter (with it, SwiftShader's on a machine with no GPU).
 * No `--user-data-dir`: playwright makes a fresh temporary profile per launch.
 */
export function chromiumArgs(opts: { webgpu?: boolean } = {}): string[] {
  return [
    ...(opts.webgpu ? ['--enable-unsafe-webgpu'] : []),
    '--no-sandbox',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--no-first-run',
    '--disable-quic',
  ];
}

/** Why Chromium cannot be launched here (`no Chromium at …`, with the fix), or null when it can. */
export function chromiumMissing(): string | null {
  return existsSync(chromiumPath)
    ? null
    : `no Chromium at ${chromiumPath} (scripts/setup-system.sh installs it; DESCENT_CHROMIUM picks another)`;
}

/**
 * Handles a reason the browser tests cannot run: under CI it throws (nothing that matters may skip
 * silently there); elsewhere it prints that `what` is skipped and why, and the caller skips.
 */
export function skipOrFail(what: string, reason: string): void {
  if (isCI) throw new Error(`CI=${process.env.CI} but ${reason}: ${what} cannot run`);
  console.warn(`skipping ${what}: ${reason}`);
}

/**
 * Null when Chromium is there; otherwise the reason, after {@link skipOrFail} (so under CI this throws,
 * elsewhere it prints that `what` is skipped) — for a test's setup, whose tests then skip on the reason.
 */
export function chromiumUnavailable(what: string): string | null {
  const reason = chromiumMissing();
  if (reason) skipOrFail(what, reason);
  return reason;
}

/** Launches headless Chromium with {@link chromiumArgs}; playwright-core loads only when a browser is wanted. */
export async function launchChromium(opts: { webgpu?: boolean } = {}): Promise<Browser> {
  const { chromium } = await import('playwright-core');
  return chromium.launch({ executablePath: chromiumPath, headless: true, args: chromiumArgs(opts) });
}

/**
 * Collects the page's uncaught exceptions into the returned array (tests assert it stays empty), and with
 * `console` also its `console.error` messages.
 */
export function collectPageErrors(page: Page, opts: { console?: boolean } = {}): string[] {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  if (opts.console)
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
  return errors;
}

/**
 * Opens `url` in a new page of `browser` (or of a context), collecting its errors as
 * {@link collectPageErrors} does, and waits until the page has defined the global `ready`.
 */
export async function openPage(
  browser: Browser | BrowserContext,
  url: string,
  opts: { ready: string; timeout: number; console?: boolean },
): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage();
  const errors = collectPageErrors(page, opts);
  await page.goto(url);
  await page.waitForFunction((name) => name in globalThis, opts.ready, { timeout: opts.timeout });
  return { page, errors };
}

/**
 * COOP + COEP: with both, a page is cross-origin isolated, so it has SharedArrayBuffer (the wasm
 * backend's worker pool) and precise timers.
 */
export const isolationHeaders = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
} as const;

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html',
  '.js': 'text/javascript',
  '.mjs': 'text/javascript',
  '.wasm': 'application/wasm',
  '.json': 'application/json',
  '.map': 'application/json',
};

export interface StaticServer {
  server: Server;
  /** `http://127.0.0.1:<port>`, no trailing slash. */
  url: string;
  close(): Promise<void>;
}

/**
 * Serves files on 127.0.0.1 (a secure context, so WebGPU is exposed) on a free port. `mounts` maps URL
 * prefixes ending in '/' to directories — the longest matching prefix wins — or is one directory
 * served at '/'. A path ending in '/' serves that directory's index.html; a path that leaves its mount's
 * directory ('..'), or names no file, is a 404. With `isolate` (the default) every response carries
 * {@link isolationHeaders}.
 */
export function serveStatic(
  mounts: string | Record<string, string>,
  opts: { isolate?: boolean } = {},
): Promise<StaticServer> {
  const roots = Object.entries(typeof mounts === 'string' ? { '/': mounts } : mounts)
    .map(([prefix, dir]) => [prefix, resolve(dir)] as const)
    .sort((a, b) => b[0].length - a[0].length);
  const headers = opts.isolate === false ? {} : isolationHeaders;
  const server = createServer((req, res) => {
    let path: string;
    try {
      path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    } catch {
      res.writeHead(400).end();
      return;
    }
    const mount = roots.find(([prefix]) => path.startsWith(prefix));
    const rel = mount ? path.slice(mount[0].length) : '';
    const file = mount ? join(mount[1], rel, rel === '' || rel.endsWith('/') ? 'index.html' : '') : '';
    const inside = mount && file.startsWith(mount[1] + sep);
    if (!inside || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, {
      'Content-Type': CONTENT_TYPES[extname(file)] ?? 'application/octet-stream',
      ...headers,
    });
    res.end(readFileSync(file));
  });
  return new Promise((ok, fail) => {
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () =>
      ok({
        server,
        url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        close: () => new Promise((done) => server.close(() => done())),
      }),
    );
  });
}

/**
 * Compiles a TypeScript project (`tsconfig`) into `outDir` with the workspace's tsc, so a page can
 * import the sources as plain ES modules with no bundler.
 */
export function compileTs(tsconfig: string, outDir: string): void {
  const tsc = join(createRequire(import.meta.url).resolve('typescript/package.json'), '..', 'bin', 'tsc');
  execFileSync(process.execPath, [tsc, '-p', tsconfig, '--outDir', outDir], { stdio: 'pipe' });
}
