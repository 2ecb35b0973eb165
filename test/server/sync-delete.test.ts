import { afterEach, describe, expect, it } from "vitest";
import {
  expectError,
  getJson,
  jsonlInit,
  startTestServer,
  type TestServer,
  waitSettled,
} from "../helpers/server.js";

/**
 * The service's side of incremental updates: `?sync=full` on a submission makes a new body the
 * batch's new input (the documents it left out end deleted), and `DELETE /v1/batches/:id`
 * removes a batch with all it owns, behind the same token as every route.
 */

const body = (from: number, to: number) =>
  Array.from({ length: to - from }, (_, i) =>
    JSON.stringify({ id: `d${from + i}`, content: `text ${from + i}` }),
  ).join("\n");

describe("routes: sync and delete", () => {
  let server: TestServer | null = null;
  afterEach(async () => {
    await server?.close();
    server = null;
  });

  it("a body submitted with sync=full replaces the batch's input and deletes what it left out", async () => {
    server = await startTestServer();
    const { app } = server;
    expect((await app.request("/v1/batches?batch_id=s", jsonlInit(body(0, 30)))).status).toBe(202);
    await waitSettled(app, "s");
    // Without sync=full another body of the same id is a conflict, as before.
    await expectError(
      await app.request("/v1/batches?batch_id=s", jsonlInit(body(5, 30))),
      409,
      "BATCH_CONFLICT",
    );
    await expectError(
      await app.request("/v1/batches?batch_id=s&sync=sometimes", jsonlInit(body(5, 30))),
      400,
      "USAGE",
    );
    expect((await app.request("/v1/batches?batch_id=s&sync=full", jsonlInit(body(5, 32)))).status).toBe(202);
    const status = await waitSettled(app, "s");
    expect(status.counts).toMatchObject({ deleted: 5, total: 27, done: 27 });
    const exported = await (await app.request("/v1/batches/s/export")).text();
    const ids = exported
      .trim()
      .split("\n")
      .map((line) => (JSON.parse(line) as { doc_id: string }).doc_id);
    expect(ids).toHaveLength(27);
    expect(ids).not.toContain("d0");
  });

  it("deletes a batch; an unknown id is BATCH_NOT_FOUND", async () => {
    server = await startTestServer({ token: "t0k" });
    const { app } = server;
    const auth = { authorization: "Bearer t0k" };
    expect(
      (await app.request("/v1/batches?batch_id=x", jsonlInit(body(0, 10), { headers: auth }))).status,
    ).toBe(202);
    await waitSettled(app, "x", { headers: auth });
    await expectError(await app.request("/v1/batches/x", { method: "DELETE" }), 401, "UNAUTHORIZED");
    const res = await app.request("/v1/batches/x", { method: "DELETE", headers: auth });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ batch_id: "x", documents: 10, sinks: [] });
    await expectError(await app.request("/v1/batches/x", { headers: auth }), 404, "BATCH_NOT_FOUND");
    await expectError(
      await app.request("/v1/batches/x", { method: "DELETE", headers: auth }),
      404,
      "BATCH_NOT_FOUND",
    );
    const openapi = await getJson<{ paths: Record<string, Record<string, unknown>> }>(
      app,
      "/openapi.json",
      auth,
    );
    expect(openapi.paths["/v1/batches/{id}"]).toHaveProperty("delete");
    expect(await server.store.listBatches()).toEqual([]);
  });
});
