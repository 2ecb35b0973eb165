import { afterAll, beforeAll } from "vitest";
import { EmbeddingTestServer } from "../../src/testing/embedding-server.js";

export interface SharedEmbeddings {
  /** The server, to inject faults or read its counters; set once the block's tests run. */
  server: EmbeddingTestServer;
  /** Its base URL, for `--embed-url`. */
  url: string;
}

/** An embedding test server shared by the tests of one describe block: started before them, stopped after. */
export function sharedEmbeddings(
  options: ConstructorParameters<typeof EmbeddingTestServer>[0],
): SharedEmbeddings {
  const shared = {} as SharedEmbeddings;
  beforeAll(async () => {
    shared.server = new EmbeddingTestServer(options);
    shared.url = await shared.server.start();
  });
  afterAll(async () => {
    await shared.server?.stop();
  });
  return shared;
}
