/**
 * A minimal ONNX model writer (protobuf wire format by hand): enough to express single-op graphs
 * (MatMul, Conv, Sigmoid·Mul, Softmax) so onnxruntime-web can be measured on the same inputs.
 * Field numbers follow onnx.proto3 (ModelProto, GraphProto, NodeProto, AttributeProto, ValueInfoProto).
 */

class Writer {
  private bytes: number[] = [];
  varint(v: number): this {
    let x = BigInt(v);
    if (x < 0n) x += 1n << 64n;
    do {
      let b = Number(x & 0x7fn);
      x >>= 7n;
      if (x > 0n) b |= 0x80;
      this.bytes.push(b);
    } while (x > 0n);
    return this;
  }
  tag(field: number, wire: number): this {
    return this.varint((field << 3) | wire);
  }
  int(field: number, v: number): this {
    return this.tag(field, 0).varint(v);
  }
  float(field: number, v: number): this {
    this.tag(field, 5);
    const b = new Uint8Array(new Float32Array([v]).buffer);
    this.bytes.push(...b);
    return this;
  }
  bytesField(field: number, data: Uint8Array): this {
    this.tag(field, 2).varint(data.length);
    for (const b of data) this.bytes.push(b);
    return this;
  }
  string(field: number, s: string): this {
    return this.bytesField(field, new TextEncoder().encode(s));
  }
  message(field: number, w: Writer): this {
    return this.bytesField(field, w.finish());
  }
  finish(): Uint8Array {
    return Uint8Array.from(this.bytes);
  }
}

export type OnnxAttr = { name: string } & (
  | { i: number }
  | { f: number }
  | { ints: number[] }
  | { s: string }
);

export interface OnnxNode {
  op: string;
  inputs: string[];
  outputs: string[];
  attrs?: OnnxAttr[];
}

export interface OnnxValue {
  name: string;
  /** 1 = FLOAT, 6 = INT32, 7 = INT64 */
  elemType: number;
  shape: number[];
}

enum AttrType {
  FLOAT = 1,
  INT = 2,
  STRING = 3,
  INTS = 7,
}

function attribute(a: OnnxAttr): Writer {
  const w = new Writer().string(1, a.name);
  if ('f' in a) w.float(2, a.f).int(20, AttrType.FLOAT);
  else if ('i' in a) w.int(3, a.i).int(20, AttrType.INT);
  else if ('s' in a) w.string(4, a.s).int(20, AttrType.STRING);
  else {
    for (const v of a.ints) w.int(8, v);
    w.int(20, AttrType.INTS);
  }
  return w;
}

function valueInfo(v: OnnxValue): Writer {
  const shape = new Writer();
  for (const d of v.shape) shape.message(1, new Writer().int(1, d));
  const tensorType = new Writer().int(1, v.elemType).message(2, shape);
  return new Writer().string(1, v.name).message(2, new Writer().message(1, tensorType));
}

/** Serializes a model with one graph (opset 17, IR version 8). */
export function onnxModel(nodes: OnnxNode[], inputs: OnnxValue[], outputs: OnnxValue[]): Uint8Array {
  const graph = new Writer();
  nodes.forEach((n, i) => {
    const node = new Writer();
    for (const x of n.inputs) node.string(1, x);
    for (const y of n.outputs) node.string(2, y);
    node.string(3, `n${i}`).string(4, n.op);
    for (const a of n.attrs ?? []) node.message(5, attribute(a));
    graph.message(1, node);
  });
  graph.string(2, 'bench');
  for (const v of inputs) graph.message(11, valueInfo(v));
  for (const v of outputs) graph.message(12, valueInfo(v));
  return new Writer()
    .int(1, 8)
    .string(2, 'descent-benchmarks')
    .message(7, graph)
    .message(8, new Writer().string(1, '').int(2, 17))
    .finish();
}
