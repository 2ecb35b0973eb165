import { parentPort, workerData } from "node:worker_threads";
import { toWireError, type WireError } from "../../core/errors.js";
import { Interrupt } from "../../core/interrupt.js";
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

/** The client's options, first of all messages to a thread started before they were known. */
export interface EmbedInitMessage {
  init: HttpEmbedderOptions;
}

export type EmbedAnswerMessage = { id: number; vectors: Float32Array[] } | { id: number; error: WireError };

const port = parentPort!;
// Given at start, or in the first message to a thread started on standby (see ThreadedHttpEmbedder.prewarm).
let embedder = workerData ? new HttpEmbedder(workerData as HttpEmbedderOptions) : null;
// A plain Interrupt per request: an AbortController and its listener cost this thread a tenth of
// its time with one-line documents.
const inFlight = new Map<number, Interrupt>();

port.on("message", (message: EmbedRequestMessage | EmbedInitMessage) => {
  if ("init" in message) {
    embedder = new HttpEmbedder(message.init);
    return;
  }
  const { id, texts, abort } = message;
  if (abort) {
    inFlight.get(id)?.abort(new Error("given up by the caller"));
    inFlight.delete(id);
    return;
  }
  const interrupt = new Interrupt();
  inFlight.set(id, interrupt);
  embedder!.embed(texts ?? [], interrupt).then(
    (vectors) => {
      inFlight.delete(id);
      const answer: EmbedAnswerMessage = { id, vectors };
      port.postMessage(answer, [...new Set(vectors.map((v) => v.buffer as ArrayBuffer))]);
    },
    (err: unknown) => {
      inFlight.delete(id);
      // Given up by the caller, who has its answer already.
      if (interrupt.aborted) return;
      const error = toWireError(err);
      port.postMessage({ id, error } satisfies EmbedAnswerMessage);
    },
  );
});
