import { writeMixed } from "./corpus.js";

writeMixed("/tmp/sk/mixed.jsonl", 5000);
