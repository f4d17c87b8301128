import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { chromiumArgs, type StaticServer, serveStatic } from '../src/index.js';

/** GET with the path sent as written (fetch would normalise '..' and %2e%2e away before sending). */
function rawGet(
  url: string,
  path: string,
): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((ok, fail) => {
    get(`${url}${path}`, { path }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => ok({ status: res.statusCode ?? 0, headers: res.headers, body }));
    }).on('error', fail);
  });
}

describe('serveStatic', () => {
  let dir = '';
  let servers: StaticServer[] = [];
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'browser-test-'));
    for (const sub of ['site', 'lib', 'lib/deep']) mkdirSync(join(dir, sub), { recursive: true });
    writeFileSync(join(dir, 'secret.txt'), 'outside');
    writeFileSync(join(dir, 'site', 'index.html'), '<p>site');
    writeFileSync(join(dir, 'site', 'a.js'), 'site a');
    writeFileSync(join(dir, 'lib', 'a.js'), 'lib a');
    writeFileSync(join(dir, 'lib', 'k.wasm'), 'wasm');
    writeFileSync(join(dir, 'lib', 'deep', 'index.html'), '<p>deep');
  });
  afterEach(async () => {
    await Promise.all(servers.map((s) => s.close()));
    servers = [];
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const start = async (...a: Parameters<typeof serveStatic>) => {
    const s = await serveStatic(...a);
    servers.push(s);
    return s;
  };

  it('serves mounts by their longest prefix, index.html for directories, with the isolation headers', async () => {
    const { url } = await start({ '/': join(dir, 'site'), '/lib/': join(dir, 'lib') });
    const root = await rawGet(url, '/');
    expect(root).toMatchObject({ status: 200, body: '<p>site' });
    expect(root.headers['content-type']).toBe('text/html');
    expect(root.headers['cross-origin-opener-policy']).toBe('same-origin');
    expect(root.headers['cross-origin-embedder-policy']).toBe('require-corp');
    expect((await rawGet(url, '/a.js?v=1')).body).toBe('site a');
    const lib = await rawGet(url, '/lib/a.js');
    expect(lib).toMatchObject({ status: 200, body: 'lib a' });
    expect(lib.headers['content-type']).toBe('text/javascript');
    expect((await rawGet(url, '/lib/k.wasm')).headers['content-type']).toBe('application/wasm');
    expect((await rawGet(url, '/lib/deep/')).body).toBe('<p>deep');
  });

  it('answers 404 for missing files, directories without index.html and paths leaving the mount', async () => {
    const { url } = await start(join(dir, 'lib'));
    expect((await rawGet(url, '/missing.js')).status).toBe(404);
    expect((await rawGet(url, '/')).status).toBe(404); // lib/ has no index.html
    expect((await rawGet(url, '/../secret.txt')).status).toBe(404);
    expect((await rawGet(url, '/%2e%2e/secret.txt')).status).toBe(404);
    expect((await rawGet(url, '/%E0%A4%A')).status).toBe(400);
  });

  it('leaves the isolation headers out when asked', async () => {
    const { url } = await start(join(dir, 'site'), { isolate: false });
    const r = await rawGet(url, '/');
    expect(r.status).toBe(200);
    expect(r.headers['cross-origin-opener-policy']).toBeUndefined();
    expect(r.headers['cross-origin-embedder-policy']).toBeUndefined();
  });
});

describe('Chromium settings', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
    vi.resetModules();
  });

  it('adds --enable-unsafe-webgpu only for WebGPU', () => {
    expect(chromiumArgs()).not.toContain('--enable-unsafe-webgpu');
    expect(chromiumArgs({ webgpu: true })).toEqual(['--enable-unsafe-webgpu', ...chromiumArgs()]);
    expect(chromiumArgs()).toContain('--no-sandbox');
  });

  it('DESCENT_CHROMIUM, then CHROMIUM_PATH, pick the browser; one that exists is not a reason to skip', async () => {
    vi.stubEnv('DESCENT_CHROMIUM', undefined);
    vi.stubEnv('CHROMIUM_PATH', process.execPath);
    vi.stubEnv('CI', 'true');
    vi.resetModules();
    let m = await import('../src/index.js');
    expect(m.chromiumPath).toBe(process.execPath);
    expect(m.chromiumUnavailable('the test')).toBeNull();
    vi.stubEnv('DESCENT_CHROMIUM', '/elsewhere/chromium');
    vi.resetModules();
    m = await import('../src/index.js');
    expect(m.chromiumPath).toBe('/elsewhere/chromium');
  });

  it('a missing browser fails under CI and is reported as a skip elsewhere', async () => {
    vi.stubEnv('DESCENT_CHROMIUM', join(tmpdir(), 'no-such-chromium'));
    for (const [ci, fails] of [
      ['true', true],
      ['1', true],
      ['', false],
    ] as const) {
      vi.stubEnv('CI', ci);
      vi.resetModules();
      const m = await import('../src/index.js');
      const reason = m.chromiumMissing();
      expect(reason).toMatch(/^no Chromium at .*no-such-chromium /);
      const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
      if (fails) {
        expect(() => m.skipOrFail('the test', reason!)).toThrow(new RegExp(`^CI=${ci} but no Chromium at`));
        expect(() => m.chromiumUnavailable('the test')).toThrow(/the test cannot run/);
      } else {
        expect(m.chromiumUnavailable('the test')).toBe(reason);
        expect(warn).toHaveBeenCalledWith(expect.stringMatching(/^skipping the test: no Chromium at/));
      }
      warn.mockRestore();
    }
  });
});
