import { parentPort, workerData } from "node:worker_threads";
import { type ErrorDetail, toDocbatchError } from "../../core/errors.js";
import { HttpEmbedder, type HttpEmbedderOptions } from "./http.js";

/**
 * The thread of a run's embedding requests (see ThreadedHttpEmbedder): it sends each request the
 * main thread hands over, reads and checks the answer, and returns the vectors (their memory moved,
 * not copied) or the error, classified as the in-process client classifies it.
 */
export interface EmbedRequestMessage {
  id: number;
  texts?: string[];
  /** The caller gave up on request `id`: its connection is closed. */
  abort?: true;
}

export type EmbedAnswerMessage =
  | { id: number; vectors: Float32Array[] }
  | {
      id: number;
      error: {
        code: string;
        message: string;
        retryAfterMs: number | undefined;
        details: ErrorDetail[];
        hints: string[];
      };
    };

const port = parentPort!;
const embedder = new HttpEmbedder(workerData as HttpEmbedderOptions);
const inFlight = new Map<number, AbortController>();

port.on("message", ({ id, texts, abort }: EmbedRequestMessage) => {
  if (abort) {
    inFlight.get(id)?.abort();
    inFlight.delete(id);
    return;
  }
  const controller = new AbortController();
  inFlight.set(id, controller);
  embedder.embed(texts ?? [], controller.signal).then(
    (vectors) => {
      inFlight.delete(id);
      const answer: EmbedAnswerMessage = { id, vectors };
      port.postMessage(answer, [...new Set(vectors.map((v) => v.buffer as ArrayBuffer))]);
    },
    (err: unknown) => {
      inFlight.delete(id);
      // Given up by the caller, who has its answer already.
      if (controller.signal.aborted) return;
      const e = toDocbatchError(err);
      const error = {
        code: e.code,
        message: e.message,
        retryAfterMs: e.retryAfterMs,
        details: e.details,
        hints: e.hints,
      };
      port.postMessage({ id, error } satisfies EmbedAnswerMessage);
    },
  );
});
