// Parses an AsyncAPI document as editors' tools do (@asyncapi/parser) and prints what it finds
// as JSON: {"version": ..., "diagnostics": [...]}. Exit status 1 when it has errors.
import { readFileSync } from "node:fs";
import { Parser } from "@asyncapi/parser";

const path = process.argv[2];
const parser = new Parser();
const { document, diagnostics } = await parser.parse(readFileSync(path, "utf8"));
const found = diagnostics.map((d) => ({
  code: d.code,
  severity: d.severity,
  message: d.message,
  path: d.path.join("."),
}));
console.log(JSON.stringify({ version: document ? document.version() : null, diagnostics: found }));
process.exit(document && !found.some((d) => d.severity === 0) ? 0 : 1);
