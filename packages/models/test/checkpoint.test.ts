/**
 * safetensors reading/writing, checkpoint round trips (weights, optimizer state, step), PyTorch
 * layout interop on a hand-built file, malformed files, a seeded fuzz of the header parser, and the
 * Node file helpers (atomic writes).
 */
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crossEntropy, DescentError, dispose, memory, randint, setSeed, tensor, tidy } from '@descent/core';
import { SGD } from '@descent/optim';
import { afterAll, describe, expect, it } from 'vitest';
import {
  BatchNorm2d,
  Conv2d,
  Flatten,
  Linear,
  loadCheckpoint,
  MLP,
  parseSafetensorsHeader,
  readSafetensors,
  Sequential,
  saveCheckpoint,
  twoSpirals,
  writeSafetensors,
} from '../src/index.js';
import { loadCheckpointFile, saveCheckpointFile } from '../src/node.js';
import { Rng } from './reference.js';

const rng = new Rng(5);
const enc = new TextEncoder();

/** A safetensors file from a header object (any JSON, valid or not) and raw data bytes. */
function build(header: unknown, data: Uint8Array = new Uint8Array(0), headerText?: string): Uint8Array {
  const json = enc.encode(headerText ?? JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setUint32(0, json.length, true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

const f32Bytes = (...v: number[]) => new Uint8Array(Float32Array.from(v).buffer);

describe('safetensors', () => {
  it('round-trips F32/I32/I64 tensors and metadata, with an 8-byte aligned data section', () => {
    const bytes = writeSafetensors(
      [
        { name: 'a', dtype: 'F32', shape: [2, 2], data: Float32Array.from([1, -2.5, 3e-8, 4]) },
        { name: 'b', dtype: 'I32', shape: [3], data: Int32Array.from([7, -8, 2 ** 31 - 1]) },
        { name: 'c', dtype: 'I64', shape: [], data: Int32Array.from([-5]) },
        { name: 'empty', dtype: 'F32', shape: [0, 3], data: new Float32Array(0) },
      ],
      { note: 'hi' },
    );
    const header = parseSafetensorsHeader(bytes);
    expect(header.dataStart % 8).toBe(0);
    const { tensors, metadata } = readSafetensors(bytes);
    expect(metadata).toEqual({ note: 'hi' });
    expect(Array.from(tensors.get('a')!.data)).toEqual(Array.from(Float32Array.from([1, -2.5, 3e-8, 4])));
    expect(Array.from(tensors.get('b')!.data)).toEqual([7, -8, 2 ** 31 - 1]);
    expect(tensors.get('c')).toMatchObject({ dtype: 'I64', shape: [] });
    expect(Array.from(tensors.get('c')!.data)).toEqual([-5]);
    expect(tensors.get('empty')!.shape).toEqual([0, 3]);
  });

  it('decodes F64, F16, BF16, I16, I8, U8 and BOOL', () => {
    const data = new Uint8Array(8 + 2 * 2 + 2 + 2 + 1 + 1 + 1);
    const v = new DataView(data.buffer);
    v.setFloat64(0, 0.1, true);
    v.setUint16(8, 0x3c00, true); // f16 1.0
    v.setUint16(10, 0xc100, true); // f16 −2.5
    v.setUint16(12, 0x4049, true); // bf16 3.140625
    v.setInt16(14, -300, true);
    v.setInt8(16, -7);
    v.setUint8(17, 200);
    v.setUint8(18, 1);
    const file = build(
      {
        d: { dtype: 'F64', shape: [1], data_offsets: [0, 8] },
        h: { dtype: 'F16', shape: [2], data_offsets: [8, 12] },
        bf: { dtype: 'BF16', shape: [1], data_offsets: [12, 14] },
        i16: { dtype: 'I16', shape: [1], data_offsets: [14, 16] },
        i8: { dtype: 'I8', shape: [1], data_offsets: [16, 17] },
        u8: { dtype: 'U8', shape: [1], data_offsets: [17, 18] },
        b: { dtype: 'BOOL', shape: [1], data_offsets: [18, 19] },
      },
      data,
    );
    const t = readSafetensors(file).tensors;
    const get = (k: string) => Array.from(t.get(k)!.data);
    expect(get('d')).toEqual([Math.fround(0.1)]);
    expect(get('h')).toEqual([1, -2.5]);
    expect(get('bf')).toEqual([3.140625]);
    expect([get('i16'), get('i8'), get('u8'), get('b')]).toEqual([[-300], [-7], [200], [1]]);
  });

  const malformed: [string, Uint8Array, RegExp][] = [
    ['shorter than the length field', new Uint8Array(5), /file is 5 bytes/],
    [
      'a header length over the limit',
      (() => {
        const b = new Uint8Array(16);
        new DataView(b.buffer).setUint32(4, 1, true); // 2^32 bytes
        return b;
      })(),
      /exceeds the limit/,
    ],
    ['a truncated header', build({}).subarray(0, 9), /truncated: the header needs 2 bytes but only 1 follow/],
    [
      'invalid UTF-8',
      build(null, undefined, '{"\xff":1}').map((b, i) => (i === 10 ? 0xff : b)),
      /not valid UTF-8/,
    ],
    ['invalid JSON', build(null, undefined, '{"a": '), /not valid JSON/],
    ['a JSON array', build([1, 2]), /must be a JSON object/],
    [
      'an unknown dtype',
      build({ a: { dtype: 'F8', shape: [1], data_offsets: [0, 1] } }, new Uint8Array(1)),
      /tensor 'a': unknown dtype "F8"/,
    ],
    [
      'a negative dimension',
      build({ a: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, new Uint8Array(4)),
      /not a non-negative integer/,
    ],
    [
      'a fractional dimension',
      build({ a: { dtype: 'F32', shape: [1.5], data_offsets: [0, 4] } }, new Uint8Array(4)),
      /not a non-negative integer/,
    ],
    [
      'offsets past the end (truncated data)',
      build({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } }, new Uint8Array(4)),
      /run past the data section of 4 bytes/,
    ],
    [
      'offsets running backwards',
      build({ a: { dtype: 'F32', shape: [1], data_offsets: [4, 0] } }, new Uint8Array(4)),
      /run backwards/,
    ],
    [
      'a byte size that does not match the shape',
      build({ a: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, new Uint8Array(8)),
      /needs 12 bytes but data_offsets cover 8/,
    ],
    [
      'a huge shape',
      build({ a: { dtype: 'F32', shape: [2 ** 40, 2 ** 40], data_offsets: [0, 4] } }, new Uint8Array(4)),
      /needs Infinity bytes/,
    ],
    [
      'overlapping tensors',
      build(
        {
          a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
          b: { dtype: 'F32', shape: [1], data_offsets: [4, 8] },
        },
        new Uint8Array(8),
      ),
      /overlap/,
    ],
    [
      'bytes that belong to no tensor',
      build({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, new Uint8Array(8)),
      /data bytes \[4, 8\) belong to no tensor/,
    ],
    ['a non-string metadata value', build({ __metadata__: { step: 3 } }), /value of 'step' must be a string/],
    [
      'an extra entry field',
      build({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4], x: 1 } }, new Uint8Array(4)),
      /unexpected field\(s\) x/,
    ],
    [
      'offsets that are not two integers',
      build({ a: { dtype: 'F32', shape: [1], data_offsets: [0] } }, new Uint8Array(4)),
      /data_offsets must be two non-negative integers/,
    ],
    [
      'an I64 value outside i32',
      build(
        { a: { dtype: 'I64', shape: [1], data_offsets: [0, 8] } },
        new Uint8Array([0, 0, 0, 0, 1, 0, 0, 0]),
      ),
      /does not fit in i32/,
    ],
  ];
  for (const [what, bytes, message] of malformed) {
    it(`rejects a file with ${what}`, () => {
      expect(() => readSafetensors(bytes)).toThrow(DescentError);
      expect(() => readSafetensors(bytes)).toThrow(message);
    });
  }

  it('fuzz: random bytes and random mutations of a valid file never crash the parser', () => {
    const valid = writeSafetensors(
      [
        { name: 'w', dtype: 'F32', shape: [2, 3], data: Float32Array.from([1, 2, 3, 4, 5, 6]) },
        { name: 'n', dtype: 'I64', shape: [1], data: Int32Array.from([3]) },
      ],
      { k: 'v' },
    );
    let rejected = 0;
    let accepted = 0;
    const attempt = (bytes: Uint8Array) => {
      try {
        readSafetensors(bytes, { maxHeaderBytes: 1 << 16 });
        accepted++;
      } catch (e) {
        // Every failure must be the parser's own clear error, never a TypeError/RangeError.
        if (!(e instanceof DescentError)) throw e;
        rejected++;
      }
    };
    for (let i = 0; i < 1500; i++) {
      const n = Math.floor(rng.uniform() * 64);
      const random = rng.bytes(n);
      // Half of the random files get a plausible small header length so the JSON path is exercised.
      if (n >= 8 && i % 2 === 0) new DataView(random.buffer).setUint32(0, n - 8, true);
      attempt(random);
      const mutated = valid.slice();
      const flips = 1 + Math.floor(rng.uniform() * 4);
      for (let f = 0; f < flips; f++)
        mutated[Math.floor(rng.uniform() * mutated.length)] = Math.floor(rng.uniform() * 256);
      attempt(
        rng.uniform() < 0.2 ? mutated.subarray(0, Math.floor(rng.uniform() * mutated.length)) : mutated,
      );
    }
    expect(rejected).toBeGreaterThan(1500);
    expect(accepted + rejected).toBe(3000);
  });
});

describe('checkpoints', () => {
  it('save mid-training, load into a fresh model and optimizer, continue: identical to an uninterrupted run', async () => {
    const data = twoSpirals(64, { seed: 3 });
    const x = tensor(data.x, [data.n, 2]);
    const y = tensor(data.y, [data.n]);
    const make = () => {
      const model = new MLP([2, 8, 8, 2], { seed: 4 });
      return { model, opt: new SGD(model.parameters(), { lr: 0.1, momentum: 0.9 }) };
    };
    const train = (m: ReturnType<typeof make>, steps: number) => {
      for (let s = 0; s < steps; s++)
        tidy(() => {
          m.opt.zeroGrad();
          crossEntropy(m.model.forward(x), y).backward();
          m.opt.step();
        });
    };
    const straight = make();
    train(straight, 20);
    const resumedFrom = make();
    train(resumedFrom, 10);
    const bytes = await saveCheckpoint({
      model: resumedFrom.model,
      optimizer: resumedFrom.opt,
      step: 10,
      metadata: { run: 'test' },
    });
    const fresh = make();
    const info = await loadCheckpoint(bytes, { model: fresh.model, optimizer: fresh.opt });
    expect(info.step).toBe(10);
    expect(info.metadata.run).toBe('test');
    train(fresh, 10);
    const a = straight.model.parameters().map((p) => Array.from(p.dataSync()));
    const b = fresh.model.parameters().map((p) => Array.from(p.dataSync()));
    expect(b).toEqual(a);
    for (const m of [straight, resumedFrom, fresh]) {
      m.opt.zeroGrad();
      m.opt.dispose();
      m.model.dispose();
    }
    dispose(x, y);
  });

  it('never half-loads: a shape mismatch, a missing optimizer state or a rejected state leaves the model as it was', async () => {
    const live = memory().tensors;
    const src = new Sequential(new Linear(2, 3, { seed: 1 }), new Linear(3, 2, { seed: 2 }));
    const bytes = await saveCheckpoint({ model: src });
    const dst = new Sequential(new Linear(2, 3, { seed: 5 }), new Linear(3, 4, { seed: 6 }));
    const before = dst.parameters().map((p) => Array.from(p.dataSync()));
    await expect(loadCheckpoint(bytes, { model: dst })).rejects.toThrow(
      /'1.weight' has shape \[3, 2\] but the model expects \[3, 4\]/,
    );
    expect(dst.parameters().map((p) => Array.from(p.dataSync()))).toEqual(before);
    // Right shapes, but the optimizer asked for is not in the file.
    const same = new Sequential(new Linear(2, 3, { seed: 7 }), new Linear(3, 2, { seed: 8 }));
    const sameBefore = same.parameters().map((p) => Array.from(p.dataSync()));
    const opt = new SGD(same.parameters(), { lr: 0.1, momentum: 0.9 });
    await expect(loadCheckpoint(bytes, { model: same, optimizer: opt })).rejects.toThrow(
      /no optimizer state/,
    );
    expect(same.parameters().map((p) => Array.from(p.dataSync()))).toEqual(sameBefore);
    // An optimizer state for other parameters: the optimizer refuses, the model is rolled back.
    const other = new Sequential(new Linear(2, 3), new Linear(3, 2));
    const otherOpt = new SGD([other.parameters()[0]], { lr: 0.1 });
    const withOpt = await saveCheckpoint({ model: other, optimizer: otherOpt });
    await expect(loadCheckpoint(withOpt, { model: same, optimizer: opt })).rejects.toThrow(DescentError);
    expect(same.parameters().map((p) => Array.from(p.dataSync()))).toEqual(sameBefore);
    dispose(src, dst, same, other);
    opt.dispose();
    otherOpt.dispose();
    expect(memory().tensors).toBe(live);
  });

  it('imports a hand-built PyTorch state_dict file ([out, in] Linear, [out, in, kh, kw] Conv2d, I64 counter)', async () => {
    // PyTorch: conv = nn.Conv2d(2, 3, (2, 1)); bn = nn.BatchNorm2d(3); fc = nn.Linear(3*2*1... ) —
    // here: Sequential(conv(2→3, 2×1 kernel, no bias), BatchNorm2d(3), Flatten, Linear(3, 2)).
    const convW = Array.from({ length: 3 * 2 * 2 * 1 }, (_, i) => i + 1); // [out=3, in=2, kh=2, kw=1]
    const fcW = [10, 20, 30, 40, 50, 60]; // [out=2, in=3]
    const fcB = [0.5, -0.5];
    const bn = { weight: [1, 2, 3], bias: [0, 0.1, 0.2], mean: [0.3, 0.2, 0.1], var: [1, 4, 9] };
    const parts: [string, string, number[], number[]][] = [
      ['0.weight', 'F32', [3, 2, 2, 1], convW],
      ['1.weight', 'F32', [3], bn.weight],
      ['1.bias', 'F32', [3], bn.bias],
      ['1.running_mean', 'F32', [3], bn.mean],
      ['1.running_var', 'F32', [3], bn.var],
      ['1.num_batches_tracked', 'I64', [], [17]],
      ['3.weight', 'F32', [2, 3], fcW],
      ['3.bias', 'F32', [2], fcB],
    ];
    const chunks: Uint8Array[] = [];
    const header: Record<string, unknown> = {};
    let off = 0;
    for (const [name, dtype, shape, v] of parts) {
      const b = dtype === 'I64' ? new Uint8Array(BigInt64Array.from(v.map(BigInt)).buffer) : f32Bytes(...v);
      header[name] = { dtype, shape, data_offsets: [off, off + b.length] };
      chunks.push(b);
      off += b.length;
    }
    const data = new Uint8Array(off);
    let at = 0;
    for (const c of chunks) {
      data.set(c, at);
      at += c.length;
    }
    const file = build(header, data);
    const model = new Sequential(
      new Conv2d(2, 3, [2, 1], { bias: false }),
      new BatchNorm2d(3),
      new Flatten(),
      new Linear(3, 2),
    );
    await loadCheckpoint(file, { model, layout: 'pytorch' });
    const conv = model.layers[0] as Conv2d;
    // descent filter [kh, kw, in, out][i][0][c][o] = PyTorch [out, in, kh, kw][o][c][i][0]
    const w = conv.weight.dataSync();
    for (let i = 0; i < 2; i++)
      for (let c = 0; c < 2; c++)
        for (let o = 0; o < 3; o++) expect(w[(i * 2 + c) * 3 + o]).toBe(convW[(o * 2 + c) * 2 + i]);
    const fc = model.layers[3] as Linear;
    expect(fc.weight.shape).toEqual([3, 2]);
    expect(Array.from(fc.weight.dataSync())).toEqual([10, 40, 20, 50, 30, 60]);
    const norm = model.layers[1] as BatchNorm2d;
    expect(Array.from(norm.runningVar.dataSync())).toEqual(bn.var);
    expect(Array.from(norm.numBatchesTracked.dataSync())).toEqual([17]);
    // The export writes PyTorch's layout back, byte for byte the same tensors.
    const exported = readSafetensors(await saveCheckpoint({ model, layout: 'pytorch' })).tensors;
    for (const [name, dtype, shape, v] of parts) {
      expect(exported.get(name)).toMatchObject({ dtype, shape });
      expect(Array.from(exported.get(name)!.data)).toEqual(Array.from(Float32Array.from(v)));
    }
    // Loading the PyTorch file as if it were in descent's layout fails on the shapes, clearly.
    const fresh = new Sequential(
      new Conv2d(2, 3, [2, 1], { bias: false }),
      new BatchNorm2d(3),
      new Flatten(),
      new Linear(3, 2),
    );
    await expect(loadCheckpoint(file, { model: fresh, layout: 'descent' })).rejects.toThrow(
      /'0.weight' has shape \[3, 2, 2, 1\] but the model expects \[2, 1, 2, 3\]/,
    );
    dispose(model, fresh);
  });
});

describe('checkpoint files (Node)', () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('writes atomically (no temporary files left) and reads back; bad files name the path', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'descent-ckpt-'));
    dirs.push(dir);
    setSeed(1);
    const model = new MLP([3, 4, 2]);
    const path = join(dir, 'model.safetensors');
    await saveCheckpointFile(path, { model, step: 42 });
    await saveCheckpointFile(path, { model, step: 43 }); // replaces the old file
    expect(await readdir(dir)).toEqual(['model.safetensors']);
    const copy = new MLP([3, 4, 2]);
    expect((await loadCheckpointFile(path, { model: copy })).step).toBe(43);
    expect(copy.parameters().map((p) => Array.from(p.dataSync()))).toEqual(
      model.parameters().map((p) => Array.from(p.dataSync())),
    );
    const full = await readFile(path);
    await writeFile(join(dir, 'cut.safetensors'), full.subarray(0, full.length - 5));
    await expect(loadCheckpointFile(join(dir, 'cut.safetensors'), { model: copy })).rejects.toThrow(
      /loadCheckpointFile: '.*cut.safetensors': safetensors: .*run past the data section/,
    );
    await expect(loadCheckpointFile(path, { model: copy, maxFileBytes: 10 })).rejects.toThrow(
      /over the limit of 10/,
    );
    await expect(saveCheckpointFile(join(dir, 'missing-dir', 'x.safetensors'), { model })).rejects.toThrow();
    expect((await readdir(dir)).sort()).toEqual(['cut.safetensors', 'model.safetensors']);
    dispose(model, copy);
    tidy(() => randint(0, 2, [1])); // the generator still works after the failures
  });
});
