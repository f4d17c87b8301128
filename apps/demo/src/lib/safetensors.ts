/**
 * A small safetensors codec (https://github.com/huggingface/safetensors format): an 8-byte
 * little-endian header length, a JSON header naming each tensor's dtype, shape and byte range,
 * then the raw little-endian bytes. Only the dtypes descent uses (F32, I32) are handled.
 */

export interface NamedArray {
  name: string;
  shape: number[];
  data: Float32Array | Int32Array;
}

const DTYPES = { F32: Float32Array, I32: Int32Array } as const;

export function encodeSafetensors(arrays: NamedArray[], metadata: Record<string, string> = {}): ArrayBuffer {
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const a of arrays) {
    const size = a.shape.reduce((x, y) => x * y, 1);
    if (size !== a.data.length)
      throw new Error(`safetensors: '${a.name}' has shape [${a.shape}] but ${a.data.length} values`);
    header[a.name] = {
      dtype: a.data instanceof Float32Array ? 'F32' : 'I32',
      shape: a.shape,
      data_offsets: [offset, offset + a.data.byteLength],
    };
    offset += a.data.byteLength;
  }
  let json = JSON.stringify(header);
  // Pad the header with spaces so the data starts 8-byte aligned (as the reference writer does).
  json += ' '.repeat((8 - ((8 + new TextEncoder().encode(json).length) % 8)) % 8);
  const head = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + head.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(head.length), true);
  out.set(head, 8);
  let at = 8 + head.length;
  for (const a of arrays) {
    out.set(new Uint8Array(a.data.buffer, a.data.byteOffset, a.data.byteLength), at);
    at += a.data.byteLength;
  }
  return out.buffer;
}

export function decodeSafetensors(buf: ArrayBuffer): {
  arrays: NamedArray[];
  metadata: Record<string, string>;
} {
  if (buf.byteLength < 8)
    throw new Error(`safetensors: file of ${buf.byteLength} bytes is too short for a header`);
  const n = Number(new DataView(buf).getBigUint64(0, true));
  if (8 + n > buf.byteLength)
    throw new Error(`safetensors: header length ${n} runs past the end of the ${buf.byteLength}-byte file`);
  let header: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  try {
    header = JSON.parse(new TextDecoder().decode(new Uint8Array(buf, 8, n)));
  } catch (e) {
    throw new Error(`safetensors: the header is not valid JSON (${(e as Error).message})`);
  }
  const metadata = (header.__metadata__ ?? {}) as unknown as Record<string, string>;
  const base = 8 + n;
  const arrays: NamedArray[] = [];
  for (const [name, info] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const Ctor = DTYPES[info.dtype as keyof typeof DTYPES];
    if (!Ctor)
      throw new Error(`safetensors: tensor '${name}' has dtype ${info.dtype} (this reader handles F32, I32)`);
    const [begin, end] = info.data_offsets;
    const size = info.shape.reduce((x, y) => x * y, 1);
    if (end - begin !== size * 4 || base + end > buf.byteLength)
      throw new Error(
        `safetensors: tensor '${name}' byte range [${begin}, ${end}) does not fit shape [${info.shape}]`,
      );
    // Copy: the data section need not be 4-byte aligned inside the file buffer.
    const data = new Ctor(buf.slice(base + begin, base + end));
    arrays.push({ name, shape: info.shape, data });
  }
  return { arrays, metadata };
}
