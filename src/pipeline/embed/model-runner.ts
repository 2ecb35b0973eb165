import fs from "node:fs";
import path from "node:path";
import { DocbatchError } from "../../core/errors.js";

/**
 * A sentence-embedding model in ONNX format, run with `@huggingface/transformers` on
 * `onnxruntime-node`: optional packages, imported only when a model directory is used. Nothing is
 * ever downloaded: remote models are switched off before anything is loaded.
 *
 * The directory has the layout of the Hugging Face exports: `config.json`, `tokenizer.json`
 * (with `tokenizer_config.json`), `onnx/model.onnx`, and, for sentence-transformers models,
 * `1_Pooling/config.json`, which says whether the sentence vector is the mean of the token vectors
 * (all-MiniLM) or the first token's (bge). Vectors are L2-normalized.
 */

type Extractor = (
  texts: string[],
  options: { pooling: "mean" | "cls"; normalize: boolean },
) => Promise<{ data: Float32Array; dims: number[] }>;

interface LoadedModel {
  extract: Extractor;
  pooling: "mean" | "cls";
  /** Model inputs at once; larger requests are cut into batches of this size. */
  batch: number;
}

const models = new Map<string, Promise<LoadedModel>>();

/** The files a model directory must hold, checked before anything is imported. */
export const MODEL_FILES = ["config.json", "tokenizer.json", path.join("onnx", "model.onnx")];

/** Throws MODEL_NOT_FOUND (a usage error, exit 2) naming what is missing. */
export function checkModelDir(dir: string): string {
  const resolved = path.resolve(dir);
  const missing = MODEL_FILES.filter((f) => !fs.existsSync(path.join(resolved, f)));
  if (missing.length > 0) {
    const what = fs.existsSync(resolved) ? `has no ${missing.join(", ")}` : "does not exist";
    throw new DocbatchError("MODEL_NOT_FOUND", `--embed-model-dir ${dir} ${what}.`, {
      details: missing.map((f) => ({ path: path.join(dir, f), problem: "missing" })),
    });
  }
  return resolved;
}

function poolingOf(dir: string): "mean" | "cls" {
  try {
    const config = JSON.parse(fs.readFileSync(path.join(dir, "1_Pooling", "config.json"), "utf8")) as {
      pooling_mode_cls_token?: boolean;
    };
    return config.pooling_mode_cls_token ? "cls" : "mean";
  } catch {
    return "mean";
  }
}

/** The part of `@huggingface/transformers` used here (typed locally: the package is optional). */
interface Transformers {
  env: { allowRemoteModels: boolean; allowLocalModels: boolean; localModelPath: string };
  pipeline(task: "feature-extraction", model: string, options: Record<string, unknown>): Promise<unknown>;
}

// A variable, so that neither the compiler nor a bundler requires the optional package.
const TRANSFORMERS = "@huggingface/transformers";

async function load(dir: string, threads: number): Promise<LoadedModel> {
  let transformers: Transformers;
  try {
    transformers = (await import(TRANSFORMERS)) as Transformers;
  } catch (err) {
    throw new DocbatchError(
      "MODEL_UNAVAILABLE",
      "the local model needs @huggingface/transformers and onnxruntime-node",
      {
        cause: err,
      },
    );
  }
  const { env, pipeline } = transformers;
  env.allowRemoteModels = false;
  env.allowLocalModels = true;
  env.localModelPath = `${path.dirname(dir)}${path.sep}`;
  const extractor = await pipeline("feature-extraction", path.basename(dir), {
    dtype: "fp32",
    device: "cpu",
    session_options: { intraOpNumThreads: Math.max(1, threads), interOpNumThreads: 1 },
  });
  return { extract: extractor as unknown as Extractor, pooling: poolingOf(dir), batch: 32 };
}

/** The model of a directory, loaded once per thread (and number of cores it computes on). */
export function loadModel(dir: string, threads = 1): Promise<LoadedModel> {
  const key = `${threads}:${dir}`;
  let model = models.get(key);
  if (!model) {
    model = load(dir, threads);
    models.set(key, model);
    model.catch(() => models.delete(key));
  }
  return model;
}

/** One normalized vector per text, in order. */
export async function embedWithModel(dir: string, texts: string[], threads = 1): Promise<Float32Array[]> {
  const model = await loadModel(dir, threads);
  const out: Float32Array[] = [];
  for (let from = 0; from < texts.length; from += model.batch) {
    const batch = texts.slice(from, from + model.batch);
    const tensor = await model.extract(batch, { pooling: model.pooling, normalize: true });
    const dim = tensor.dims[tensor.dims.length - 1]!;
    for (let i = 0; i < batch.length; i++) out.push(tensor.data.slice(i * dim, (i + 1) * dim));
  }
  return out;
}
