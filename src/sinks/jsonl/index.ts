export { JsonlSink, type LogLine, replayLog } from "./sink.js";
