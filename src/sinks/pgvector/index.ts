export { PgvectorSink, type PgvectorSinkOptions } from "./sink.js";
