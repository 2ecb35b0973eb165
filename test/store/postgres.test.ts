import { afterAll, describe, it } from "vitest";
import { PostgresStore } from "../../src/store/postgres/index.js";
import { dropSchemas, freshSchemaUrl, pgUrl } from "../helpers/postgres.js";
import { storeConformance } from "./conformance.js";

const url = pgUrl();
if (url) {
  const schemas: string[] = [];
  storeConformance("postgres", async () => {
    const { url: schemaUrl, schema } = freshSchemaUrl(url, "conf");
    schemas.push(schema);
    return new PostgresStore({ url: schemaUrl, poolSize: 4 });
  });
  afterAll(async () => {
    await dropSchemas(url, schemas);
  });
} else {
  describe("Store conformance: postgres", () => {
    it.skip("needs DOCBATCH_PG_URL (a Postgres server)", () => {});
  });
}
