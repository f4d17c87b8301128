/**
 * The safetensors format (HuggingFace; what PyTorch users exchange weights in), read and written
 * with no dependencies and no Node APIs, so it runs in browsers too:
 *
 *   [u64 little-endian N] [N bytes of UTF-8 JSON header] [data bytes]
 *
 * The header maps each tensor name to { dtype, shape, data_offsets: [begin, end] } (byte offsets
 * into the data section) plus an optional "__metadata__" object of string → string.
 *
 * The parser trusts nothing: the header size is bounded, the JSON must be an object of well-formed
 * entries, every dtype known, every shape a list of non-negative integers whose byte size equals the
 * entry's range, every range inside the data section, and the ranges must tile the data section
 * without overlap or holes (as the reference implementation requires). Any violation is a
 * DescentError naming the entry and what was wrong; nothing is returned half-parsed.
 */
import { DescentError } from '@descent/core';

/** Element types of the format, with their sizes in bytes. */
export const SAFETENSORS_DTYPES = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
} as const;
export type SafeDType = keyof typeof SAFETENSORS_DTYPES;

export interface SafeTensorEntry {
  dtype: SafeDType;
  shape: number[];
  /** Byte range within the data section. */
  begin: number;
  end: number;
}

export interface SafetensorsHeader {
  entries: Map<string, SafeTensorEntry>;
  metadata: Record<string, string>;
  /** Offset of the data section in the file. */
  dataStart: number;
}

/** Host values of a tensor: floats decode to Float32Array, integers and booleans to Int32Array. */
export interface HostTensor {
  dtype: SafeDType;
  shape: number[];
  data: Float32Array | Int32Array;
}

/** Largest header accepted by default (the reference implementation's limit). */
export const MAX_HEADER_BYTES = 100_000_000;
const MAX_RANK = 16;

const fail = (msg: string): never => {
  throw new DescentError('safetensors', msg);
};

function isSafeDType(s: unknown): s is SafeDType {
  return typeof s === 'string' && Object.hasOwn(SAFETENSORS_DTYPES, s);
}

/** Parses and validates the header of a safetensors file (see the file comment for the checks). */
export function parseSafetensorsHeader(
  bytes: Uint8Array,
  opts: { maxHeaderBytes?: number } = {},
): SafetensorsHeader {
  const max = opts.maxHeaderBytes ?? MAX_HEADER_BYTES;
  if (bytes.length < 8)
    fail(`file is ${bytes.length} bytes; a safetensors file starts with an 8-byte header length`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const lo = view.getUint32(0, true);
  const hi = view.getUint32(4, true);
  const headerLen = hi * 2 ** 32 + lo;
  if (headerLen > max) fail(`header length ${headerLen} exceeds the limit of ${max} bytes`);
  if (headerLen < 2) fail(`header length ${headerLen} is too small for a JSON object`);
  if (8 + headerLen > bytes.length)
    fail(`file is truncated: the header needs ${headerLen} bytes but only ${bytes.length - 8} follow`);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerLen));
  } catch {
    return fail('header is not valid UTF-8');
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    return fail(`header is not valid JSON (${(e as Error).message})`);
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) fail('header must be a JSON object');
  const dataStart = 8 + headerLen;
  const dataLen = bytes.length - dataStart;
  const entries = new Map<string, SafeTensorEntry>();
  let metadata: Record<string, string> = {};
  for (const [name, raw] of Object.entries(json as Record<string, unknown>)) {
    if (name === '__metadata__') {
      metadata = parseMetadata(raw);
      continue;
    }
    entries.set(name, parseEntry(name, raw, dataLen));
  }
  checkTiling(entries, dataLen);
  return { entries, metadata, dataStart };
}

function parseMetadata(raw: unknown): Record<string, string> {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw))
    fail('"__metadata__" must be an object of strings');
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
    if (typeof v !== 'string') fail(`"__metadata__" value of '${k}' must be a string, got ${typeof v}`);
    out[k] = v as string;
  }
  return out;
}

function parseEntry(name: string, raw: unknown, dataLen: number): SafeTensorEntry {
  const where = `tensor '${name}'`;
  if (name.length === 0) fail('a tensor has an empty name');
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw))
    fail(`${where}: entry must be an object with dtype, shape and data_offsets`);
  const { dtype, shape, data_offsets: offsets, ...rest } = raw as Record<string, unknown>;
  const extra = Object.keys(rest);
  if (extra.length > 0) fail(`${where}: unexpected field(s) ${extra.join(', ')}`);
  if (!isSafeDType(dtype))
    fail(
      `${where}: unknown dtype ${JSON.stringify(dtype)} (known: ${Object.keys(SAFETENSORS_DTYPES).join(', ')})`,
    );
  if (!Array.isArray(shape) || shape.length > MAX_RANK)
    fail(`${where}: shape must be an array of at most ${MAX_RANK} integers, got ${JSON.stringify(shape)}`);
  let count = 1;
  for (const d of shape as unknown[]) {
    if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0)
      fail(`${where}: shape ${JSON.stringify(shape)} has a dimension that is not a non-negative integer`);
    count *= d as number;
    if (count > dataLen) count = Number.POSITIVE_INFINITY; // keeps the product from overflowing
  }
  if (
    !Array.isArray(offsets) ||
    offsets.length !== 2 ||
    !offsets.every((o) => typeof o === 'number' && Number.isSafeInteger(o) && o >= 0)
  )
    fail(`${where}: data_offsets must be two non-negative integers, got ${JSON.stringify(offsets)}`);
  const [begin, end] = offsets as number[];
  if (begin > end) fail(`${where}: data_offsets [${begin}, ${end}] run backwards`);
  if (end > dataLen)
    fail(
      `${where}: data_offsets [${begin}, ${end}] run past the data section of ${dataLen} bytes (truncated file?)`,
    );
  const need = count * SAFETENSORS_DTYPES[dtype as SafeDType];
  if (need !== end - begin)
    fail(
      `${where}: ${dtype} [${(shape as number[]).join(', ')}] needs ${need} bytes but data_offsets cover ${end - begin}`,
    );
  return { dtype: dtype as SafeDType, shape: (shape as number[]).slice(), begin, end };
}

/** The byte ranges must cover [0, dataLen) exactly once (no overlap, no holes). */
function checkTiling(entries: Map<string, SafeTensorEntry>, dataLen: number): void {
  const sorted = [...entries].sort((a, b) => a[1].begin - b[1].begin || a[1].end - b[1].end);
  let at = 0;
  for (const [name, e] of sorted) {
    if (e.begin < at) fail(`tensor '${name}': data_offsets [${e.begin}, ${e.end}] overlap another tensor`);
    if (e.begin > at) fail(`data bytes [${at}, ${e.begin}) belong to no tensor`);
    at = e.end;
  }
  if (at !== dataLen) fail(`data bytes [${at}, ${dataLen}) belong to no tensor`);
}

// ------------------------------------------------------------------------------- decoding

/** f16 bits → number (subnormals, infinities and NaN included). */
function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** Decodes one entry's bytes (little-endian) to host values; 64-bit integers must fit in i32. */
export function decodeTensor(name: string, e: SafeTensorEntry, bytes: Uint8Array): HostTensor {
  const v = new DataView(bytes.buffer, bytes.byteOffset + e.begin, e.end - e.begin);
  const size = SAFETENSORS_DTYPES[e.dtype];
  const n = (e.end - e.begin) / size;
  const isFloat = e.dtype === 'F64' || e.dtype === 'F32' || e.dtype === 'F16' || e.dtype === 'BF16';
  const data = isFloat ? new Float32Array(n) : new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const o = i * size;
    switch (e.dtype) {
      case 'F64':
        data[i] = v.getFloat64(o, true);
        break;
      case 'F32':
        data[i] = v.getFloat32(o, true);
        break;
      case 'F16':
        data[i] = halfToFloat(v.getUint16(o, true));
        break;
      case 'BF16':
        data[i] = new Float32Array(new Uint32Array([v.getUint16(o, true) << 16]).buffer)[0];
        break;
      case 'I64': {
        const x = v.getBigInt64(o, true);
        if (x < -2147483648n || x > 2147483647n)
          fail(`tensor '${name}': I64 value ${x} at index ${i} does not fit in i32`);
        data[i] = Number(x);
        break;
      }
      case 'I32':
        data[i] = v.getInt32(o, true);
        break;
      case 'I16':
        data[i] = v.getInt16(o, true);
        break;
      case 'I8':
        data[i] = v.getInt8(o);
        break;
      case 'U8':
      case 'BOOL':
        data[i] = v.getUint8(o);
        break;
    }
  }
  return { dtype: e.dtype, shape: e.shape.slice(), data };
}

/** Parses a whole file: header checks, then every tensor decoded (all or nothing). */
export function readSafetensors(
  bytes: Uint8Array,
  opts: { maxHeaderBytes?: number } = {},
): { tensors: Map<string, HostTensor>; metadata: Record<string, string> } {
  const header = parseSafetensorsHeader(bytes, opts);
  const data = bytes.subarray(header.dataStart);
  const tensors = new Map<string, HostTensor>();
  for (const [name, e] of header.entries) tensors.set(name, decodeTensor(name, e, data));
  return { tensors, metadata: header.metadata };
}

// ------------------------------------------------------------------------------- encoding

export interface TensorToWrite {
  name: string;
  /** F32 from a Float32Array; I32 or I64 from an Int32Array. */
  dtype: 'F32' | 'I32' | 'I64';
  shape: readonly number[];
  data: Float32Array | Int32Array;
}

/**
 * Serializes tensors (in the given order) and string metadata. The header is padded with spaces to
 * a multiple of 8 bytes so the data section is aligned, as the reference writer does.
 */
export function writeSafetensors(
  tensors: readonly TensorToWrite[],
  metadata: Record<string, string> = {},
): Uint8Array {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  const seen = new Set<string>();
  for (const t of tensors) {
    if (seen.has(t.name) || t.name === '__metadata__' || t.name.length === 0)
      throw new DescentError('writeSafetensors', `tensor name '${t.name}' is empty, reserved or repeated`);
    seen.add(t.name);
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (count !== t.data.length)
      throw new DescentError(
        'writeSafetensors',
        `tensor '${t.name}': shape [${t.shape.join(', ')}] holds ${count} values but ${t.data.length} were given`,
      );
    if ((t.dtype === 'F32') !== t.data instanceof Float32Array)
      throw new DescentError(
        'writeSafetensors',
        `tensor '${t.name}': dtype ${t.dtype} does not match its data array`,
      );
    const bytes = count * SAFETENSORS_DTYPES[t.dtype];
    header[t.name] = { dtype: t.dtype, shape: [...t.shape], data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.length / 8) * 8;
  if (padded !== json.length) {
    const p = new Uint8Array(padded).fill(0x20);
    p.set(json);
    json = p;
  }
  const out = new Uint8Array(8 + json.length + offset);
  const view = new DataView(out.buffer);
  view.setUint32(0, json.length, true);
  view.setUint32(4, 0, true);
  out.set(json, 8);
  let at = 8 + json.length;
  for (const t of tensors) {
    for (let i = 0; i < t.data.length; i++) {
      if (t.dtype === 'F32') view.setFloat32(at + 4 * i, t.data[i], true);
      else if (t.dtype === 'I32') view.setInt32(at + 4 * i, t.data[i], true);
      else view.setBigInt64(at + 8 * i, BigInt(t.data[i]), true);
    }
    at += t.data.length * SAFETENSORS_DTYPES[t.dtype];
  }
  return out;
}
