import path from "node:path";
import { SqliteStore } from "../../src/store/sqlite/index.js";
import { tempDir } from "../helpers/cli.js";
import { storeConformance } from "./conformance.js";

const dir = tempDir("docbatch-sqlite-");
let n = 0;
storeConformance("sqlite", async () => new SqliteStore({ file: path.join(dir, `store-${n++}.db`) }));
