export { MemorySink } from "./sink.js";
