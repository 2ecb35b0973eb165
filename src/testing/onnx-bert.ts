import fs from "node:fs";
import path from "node:path";

/**
 * Writes a BERT-shaped sentence-embedding model in the Hugging Face export layout (config.json,
 * tokenizer.json, tokenizer_config.json, onnx/model.onnx), with seeded random weights: the same
 * graph as all-MiniLM-L6-v2 or bge-small (embeddings, then layers of self-attention and a GELU
 * feed-forward, each with a residual and a layer norm), without downloading anything. Tests use a
 * tiny one; the benchmark uses one of MiniLM's exact shape to measure throughput.
 *
 * The ONNX file is encoded here by hand (protobuf wire format): no ONNX tooling is needed.
 */
export interface BertShape {
  layers: number;
  hidden: number;
  heads: number;
  intermediate: number;
  /** Vocabulary size; filled with English words, letters and synthetic word pieces. */
  vocab: number;
  maxPositions: number;
  seed?: number;
}

export const TINY_BERT: BertShape = {
  layers: 2,
  hidden: 32,
  heads: 4,
  intermediate: 64,
  vocab: 600,
  maxPositions: 128,
};
export const MINILM_L6_SHAPE: BertShape = {
  layers: 6,
  hidden: 384,
  heads: 12,
  intermediate: 1536,
  vocab: 30522,
  maxPositions: 512,
};

// --- protobuf wire format -------------------------------------------------------------------

type Bytes = Uint8Array;

function varint(value: number | bigint): number[] {
  let v = BigInt.asUintN(64, BigInt(value));
  const out: number[] = [];
  do {
    let byte = Number(v & 0x7fn);
    v >>= 7n;
    if (v !== 0n) byte |= 0x80;
    out.push(byte);
  } while (v !== 0n);
  return out;
}

const concat = (parts: Bytes[]): Bytes => Buffer.concat(parts);
const key = (field: number, wire: number): number[] => varint((field << 3) | wire);
const int = (field: number, value: number): Bytes => Uint8Array.from([...key(field, 0), ...varint(value)]);
const bytes = (field: number, value: Bytes): Bytes =>
  concat([Uint8Array.from([...key(field, 2), ...varint(value.length)]), value]);
const str = (field: number, value: string): Bytes => bytes(field, Buffer.from(value, "utf8"));
const float = (field: number, value: number): Bytes => {
  const b = Buffer.alloc(4);
  b.writeFloatLE(value);
  return concat([Uint8Array.from(key(field, 5)), b]);
};

const FLOAT = 1;
const INT64 = 7;

function tensor(name: string, dims: number[], type: number, raw: Bytes): Bytes {
  return concat([...dims.map((d) => int(1, d)), int(2, type), str(8, name), bytes(9, raw)]);
}

function floats(name: string, dims: number[], data: Float32Array): Bytes {
  return tensor(name, dims, FLOAT, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
}

function int64s(name: string, dims: number[], data: number[]): Bytes {
  const raw = new BigInt64Array(data.map((d) => BigInt(d)));
  return tensor(name, dims, INT64, new Uint8Array(raw.buffer));
}

type Attribute = { name: string } & ({ i: number } | { f: number } | { ints: number[] });

function attribute(a: Attribute): Bytes {
  if ("i" in a) return concat([str(1, a.name), int(3, a.i), int(20, 2)]);
  if ("f" in a) return concat([str(1, a.name), float(2, a.f), int(20, 1)]);
  return concat([str(1, a.name), ...a.ints.map((v) => int(8, v)), int(20, 7)]);
}

function node(op: string, inputs: string[], outputs: string[], attributes: Attribute[] = []): Bytes {
  return concat([
    ...inputs.map((i) => str(1, i)),
    ...outputs.map((o) => str(2, o)),
    str(3, `${op}_${outputs[0]}`),
    str(4, op),
    ...attributes.map((a) => bytes(5, attribute(a))),
  ]);
}

function valueInfo(name: string, type: number, dims: (number | string)[]): Bytes {
  const shape = concat(dims.map((d) => bytes(1, typeof d === "number" ? int(1, d) : str(2, d))));
  const tensorType = concat([int(1, type), bytes(2, shape)]);
  return concat([str(1, name), bytes(2, bytes(1, tensorType))]);
}

// --- the graph ------------------------------------------------------------------------------

class Graph {
  readonly nodes: Bytes[] = [];
  readonly initializers: Bytes[] = [];
  private n = 0;
  constructor(private readonly random: () => number) {}

  name(prefix: string): string {
    return `${prefix}_${this.n++}`;
  }

  weights(dims: number[], scale: number): string {
    const name = this.name("w");
    const data = new Float32Array(dims.reduce((a, b) => a * b, 1));
    for (let i = 0; i < data.length; i++) data[i] = (this.random() * 2 - 1) * scale;
    this.initializers.push(floats(name, dims, data));
    return name;
  }

  constant(values: number[], dims: number[] = [values.length]): string {
    const name = this.name("c");
    this.initializers.push(floats(name, dims, Float32Array.from(values)));
    return name;
  }

  ints(values: number[], dims: number[] = [values.length]): string {
    const name = this.name("i");
    this.initializers.push(int64s(name, dims, values));
    return name;
  }

  op(type: string, inputs: string[], attributes: Attribute[] = [], output = this.name(type)): string {
    this.nodes.push(node(type, inputs, [output], attributes));
    return output;
  }

  linear(x: string, from: number, to: number): string {
    const scale = 1 / Math.sqrt(from);
    return this.op("Add", [
      this.op("MatMul", [x, this.weights([from, to], scale)]),
      this.weights([to], 0.02),
    ]);
  }

  layerNorm(x: string, size: number): string {
    const gamma = this.constant(Array.from({ length: size }, () => 1));
    const beta = this.constant(Array.from({ length: size }, () => 0));
    return this.op(
      "LayerNormalization",
      [x, gamma, beta],
      [
        { name: "axis", i: -1 },
        { name: "epsilon", f: 1e-12 },
      ],
    );
  }
}

function encoderLayer(g: Graph, x: string, bias: string, s: BertShape): string {
  const headDim = s.hidden / s.heads;
  const split = g.ints([0, 0, s.heads, headDim]);
  const heads = (input: string, perm: number[]) =>
    g.op(
      "Transpose",
      [g.op("Reshape", [g.linear(input, s.hidden, s.hidden), split])],
      [{ name: "perm", ints: perm }],
    );
  const q = heads(x, [0, 2, 1, 3]);
  const k = heads(x, [0, 2, 3, 1]);
  const v = heads(x, [0, 2, 1, 3]);
  const scores = g.op("Add", [
    g.op("Mul", [g.op("MatMul", [q, k]), g.constant([1 / Math.sqrt(headDim)], [])]),
    bias,
  ]);
  const context = g.op("MatMul", [g.op("Softmax", [scores], [{ name: "axis", i: -1 }]), v]);
  const merged = g.op("Reshape", [
    g.op("Transpose", [context], [{ name: "perm", ints: [0, 2, 1, 3] }]),
    g.ints([0, 0, s.hidden]),
  ]);
  const attended = g.layerNorm(g.op("Add", [g.linear(merged, s.hidden, s.hidden), x]), s.hidden);
  const up = g.linear(attended, s.hidden, s.intermediate);
  // GELU as BERT computes it: x · ½ · (1 + erf(x / √2)).
  const erf = g.op("Erf", [g.op("Mul", [up, g.constant([Math.SQRT1_2], [])])]);
  const gelu = g.op("Mul", [
    g.op("Mul", [up, g.op("Add", [erf, g.constant([1], [])])]),
    g.constant([0.5], []),
  ]);
  return g.layerNorm(g.op("Add", [g.linear(gelu, s.intermediate, s.hidden), attended]), s.hidden);
}

function modelBytes(s: BertShape): Bytes {
  let state = s.seed ?? 1;
  const random = (): number => {
    state = (Math.imul(state ^ (state >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
    return state / 2 ** 32;
  };
  const g = new Graph(random);
  const word = g.op("Gather", [g.weights([s.vocab, s.hidden], 0.5), "input_ids"]);
  const length = g.op("Gather", [g.op("Shape", ["input_ids"]), g.ints([1], [])], [{ name: "axis", i: 0 }]);
  const positions = g.op("Range", [g.ints([0], []), length, g.ints([1], [])]);
  const position = g.op("Gather", [g.weights([s.maxPositions, s.hidden], 0.5), positions]);
  const type = g.op("Gather", [g.weights([2, s.hidden], 0.5), "token_type_ids"]);
  let x = g.layerNorm(g.op("Add", [g.op("Add", [word, position]), type]), s.hidden);
  // Padding is masked out of attention: (1 - mask) · -10000, shaped [batch, 1, 1, sequence].
  const mask = g.op("Cast", ["attention_mask"], [{ name: "to", i: FLOAT }]);
  const inverted = g.op("Sub", [g.constant([1], []), mask]);
  const bias = g.op("Unsqueeze", [g.op("Mul", [inverted, g.constant([-10000], [])]), g.ints([1, 2])]);
  for (let l = 0; l < s.layers; l++) x = encoderLayer(g, x, bias, s);
  g.op("Identity", [x], [], "last_hidden_state");
  const graph = concat([
    ...g.nodes.map((n) => bytes(1, n)),
    str(2, "bert"),
    ...g.initializers.map((t) => bytes(5, t)),
    ...["input_ids", "attention_mask", "token_type_ids"].map((name) =>
      bytes(11, valueInfo(name, INT64, ["batch", "sequence"])),
    ),
    bytes(12, valueInfo("last_hidden_state", FLOAT, ["batch", "sequence", s.hidden])),
  ]);
  return concat([
    int(1, 8),
    str(2, "docbatch-test"),
    bytes(7, graph),
    bytes(8, concat([str(1, ""), int(2, 17)])),
  ]);
}

// --- tokenizer --------------------------------------------------------------------------------

const SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"];
const WORDS = (
  "the of and to in is for on with as by that this it be are from or an at was not can which " +
  "document documents batch chunk chunks text model vector vectors search index page pages file files " +
  "report memo guide install source code run embed embedding retrieval query data store resume crash " +
  "alpha beta gamma delta omega first second third last one two three red green blue fox dog cat"
).split(" ");

function vocabulary(size: number): string[] {
  const vocab = [...SPECIAL];
  const seen = new Set(vocab);
  const push = (t: string) => {
    if (vocab.length < size && !seen.has(t)) {
      seen.add(t);
      vocab.push(t);
    }
  };
  for (const c of "abcdefghijklmnopqrstuvwxyz0123456789.,;:!?'\"()-") push(c);
  for (const c of "abcdefghijklmnopqrstuvwxyz0123456789") push(`##${c}`);
  for (const w of WORDS) push(w);
  // Synthetic pieces, each spelled once as a word start and once as a continuation.
  const letters = "abcdefghijklmnopqrstuvwxyz";
  for (let i = 0; vocab.length < size; i++) {
    let piece = "";
    for (let n = i + 26; n > 0; n = Math.floor(n / 26)) piece = letters[n % 26]! + piece;
    push(piece);
    push(`##${piece}`);
  }
  return vocab;
}

function tokenizerJson(vocab: string[]): object {
  const ids = Object.fromEntries(vocab.map((t, i) => [t, i]));
  const special = (t: string) => ({ id: t, ids: [ids[t]], tokens: [t] });
  return {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: SPECIAL.map((t) => ({
      id: ids[t],
      content: t,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    })),
    normalizer: {
      type: "BertNormalizer",
      clean_text: true,
      handle_chinese_chars: true,
      strip_accents: null,
      lowercase: true,
    },
    pre_tokenizer: { type: "BertPreTokenizer" },
    post_processor: {
      type: "TemplateProcessing",
      single: [
        { SpecialToken: { id: "[CLS]", type_id: 0 } },
        { Sequence: { id: "A", type_id: 0 } },
        { SpecialToken: { id: "[SEP]", type_id: 0 } },
      ],
      pair: [
        { SpecialToken: { id: "[CLS]", type_id: 0 } },
        { Sequence: { id: "A", type_id: 0 } },
        { SpecialToken: { id: "[SEP]", type_id: 0 } },
        { Sequence: { id: "B", type_id: 1 } },
        { SpecialToken: { id: "[SEP]", type_id: 1 } },
      ],
      special_tokens: { "[CLS]": special("[CLS]"), "[SEP]": special("[SEP]") },
    },
    decoder: { type: "WordPiece", prefix: "##", cleanup: true },
    model: {
      type: "WordPiece",
      unk_token: "[UNK]",
      continuing_subword_prefix: "##",
      max_input_chars_per_word: 100,
      vocab: ids,
    },
  };
}

/** Writes the model's folder and returns it. */
export function writeBertModel(dir: string, shape: BertShape = TINY_BERT): string {
  fs.mkdirSync(path.join(dir, "onnx"), { recursive: true });
  const vocab = vocabulary(shape.vocab);
  const config = {
    model_type: "bert",
    architectures: ["BertModel"],
    hidden_size: shape.hidden,
    num_attention_heads: shape.heads,
    num_hidden_layers: shape.layers,
    intermediate_size: shape.intermediate,
    max_position_embeddings: shape.maxPositions,
    vocab_size: vocab.length,
    type_vocab_size: 2,
    pad_token_id: 0,
  };
  fs.writeFileSync(path.join(dir, "config.json"), JSON.stringify(config, null, 2));
  fs.writeFileSync(path.join(dir, "tokenizer.json"), JSON.stringify(tokenizerJson(vocab)));
  fs.writeFileSync(
    path.join(dir, "tokenizer_config.json"),
    JSON.stringify({
      tokenizer_class: "BertTokenizer",
      do_lower_case: true,
      model_max_length: shape.maxPositions,
      cls_token: "[CLS]",
      sep_token: "[SEP]",
      pad_token: "[PAD]",
      unk_token: "[UNK]",
      mask_token: "[MASK]",
    }),
  );
  fs.writeFileSync(path.join(dir, "onnx", "model.onnx"), modelBytes(shape));
  return dir;
}
