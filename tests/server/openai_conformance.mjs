// Conformance of `dragon serve` with the official npm `openai` client. Usage:
//   node tests/server/openai_conformance.mjs BASE_URL API_KEY EXPECTED_GREEDY_TEXT
// Checks chat (non-stream, stream with usage), greedy output equal to `dragon run`, completions,
// models, logprobs, JSON mode, json_schema (answers of the random model parse and validate, for
// several seeds and temperatures), tool_choice required / named, and the errors (401, 400
// over-context, 400 malformed JSON, 400 unsupported schema keyword).
// Prints one line per check with its figures; exits 1 on the first failure.
import OpenAI from "openai";

const [baseURL, apiKey, expectedGreedy] = process.argv.slice(2);
const client = new OpenAI({ baseURL, apiKey, maxRetries: 0, timeout: 60000 });
const fail = (msg) => { console.log(`FAIL: ${msg}`); process.exit(1); };
const check = (ok, msg) => { if (!ok) fail(msg); };
const messages = [{ role: "user", content: "你好" }];

// 1. chat, greedy, non-stream: the text `dragon run --temp 0` printed for the same message.
const chat = await client.chat.completions.create({ model: "tiny", messages, temperature: 0, max_tokens: 16 });
const text = chat.choices[0].message.content ?? "";
const reasoning = chat.choices[0].message.reasoning_content ?? "";
check(chat.object === "chat.completion", "object");
check(chat.usage.prompt_tokens > 0 && chat.usage.completion_tokens > 0, "usage counts");
check(chat.usage.prompt_tokens_details && typeof chat.usage.prompt_tokens_details.cached_tokens === "number", "cached_tokens");
const full = (reasoning ? `<think>\n${reasoning}\n</think>\n\n` : "") + text;
check(full.trim() === expectedGreedy.trim() || text.trim() === expectedGreedy.trim() || expectedGreedy.includes(text.trim()),
      `greedy chat ${JSON.stringify(full)} != dragon run ${JSON.stringify(expectedGreedy)}`);
console.log(`  chat: ${chat.usage.prompt_tokens} prompt + ${chat.usage.completion_tokens} completion tokens, finish ${chat.choices[0].finish_reason}, equal to dragon run`);

// 2. the same request streamed, with usage: the deltas add up to the same text.
const stream = await client.chat.completions.create({ model: "tiny", messages, temperature: 0, max_tokens: 16, stream: true,
                                                      stream_options: { include_usage: true } });
let streamed = "", streamedReasoning = "", chunks = 0, usage = null, finish = null;
for await (const chunk of stream) {
  ++chunks;
  if (chunk.usage) usage = chunk.usage;
  const c = chunk.choices[0];
  if (!c) continue;
  streamed += c.delta.content ?? "";
  streamedReasoning += c.delta.reasoning_content ?? "";
  if (c.finish_reason) finish = c.finish_reason;
}
check(streamed === text && streamedReasoning === reasoning, `stream ${JSON.stringify(streamed)} != ${JSON.stringify(text)}`);
check(usage && usage.completion_tokens === chat.usage.completion_tokens, "stream usage");
check(finish === chat.choices[0].finish_reason, "stream finish_reason");
console.log(`  stream: ${chunks} chunks, same text, usage ${usage.completion_tokens} tokens`);

// 3. logprobs.
const lp = await client.chat.completions.create({ model: "tiny", messages, temperature: 0, max_tokens: 4, logprobs: true, top_logprobs: 3 });
const entries = lp.choices[0].logprobs.content;
check(entries.length === lp.usage.completion_tokens, "one logprobs entry per token");
for (const e of entries) {
  check(e.logprob <= 0 && e.top_logprobs.length === 3, "logprob shape");
  check(e.top_logprobs[0].logprob >= e.top_logprobs[2].logprob, "top_logprobs sorted");
  check(Math.abs(e.logprob - e.top_logprobs[0].logprob) < 1e-4, "greedy token is the most likely");
}
console.log(`  logprobs: ${entries.length} tokens, first ${entries[0].logprob.toFixed(4)}`);

// 4. JSON mode: the answer parses as an object.
const js = await client.chat.completions.create({ model: "tiny", messages: [{ role: "user", content: "Give me JSON" }],
                                                  response_format: { type: "json_object" }, max_tokens: 24, temperature: 0.8, seed: 3 });
let parsed;
try { parsed = JSON.parse(js.choices[0].message.content); } catch (e) { fail(`json mode output does not parse: ${js.choices[0].message.content}`); }
check(typeof parsed === "object" && !Array.isArray(parsed), "json mode gives an object");
console.log(`  json mode: ${JSON.stringify(js.choices[0].message.content).slice(0, 80)} parses (${js.usage.completion_tokens} tokens, ${js.choices[0].finish_reason})`);

// 4b. json_schema: the random model's answers parse and validate against the schema, whatever
// the seed and temperature (constrained decoding closes the document within max_tokens).
const schema = {
  type: "object",
  properties: {
    name: { type: "string", maxLength: 20 },
    age: { type: "integer" },
    score: { type: "number" },
    mood: { enum: ["happy", "sad", "calm"] },
    tags: { type: "array", items: { type: "string" }, minItems: 1, maxItems: 3 },
    pet: { anyOf: [{ $ref: "#/$defs/pet" }, { type: "null" }] },
  },
  required: ["name", "age", "score", "mood", "tags", "pet"],
  additionalProperties: false,
  $defs: { pet: { type: "object", properties: { kind: { type: "string", enum: ["cat", "dog"] }, legs: { type: "integer" } },
                  required: ["kind", "legs"], additionalProperties: false } },
};
const validate = (v, s, path = "$") => {
  if (s.$ref) return validate(v, schema.$defs[s.$ref.split("/").pop()], path);
  if (s.anyOf) { if (!s.anyOf.some((alt) => { try { validate(v, alt, path); return true; } catch { return false; } })) throw new Error(`${path}: no anyOf branch`); return; }
  if (s.enum) { if (!s.enum.includes(v)) throw new Error(`${path}: ${JSON.stringify(v)} not in enum`); return; }
  const is = { object: () => v !== null && typeof v === "object" && !Array.isArray(v), array: () => Array.isArray(v), string: () => typeof v === "string",
               number: () => typeof v === "number", integer: () => Number.isInteger(v), null: () => v === null }[s.type];
  if (!is()) throw new Error(`${path}: ${JSON.stringify(v)} is not ${s.type}`);
  if (s.type === "string" && s.maxLength !== undefined && [...v].length > s.maxLength) throw new Error(`${path}: too long`);
  if (s.type === "array") {
    if (v.length < (s.minItems ?? 0) || v.length > (s.maxItems ?? Infinity)) throw new Error(`${path}: ${v.length} items`);
    v.forEach((x, i) => validate(x, s.items, `${path}[${i}]`));
  }
  if (s.type === "object") {
    for (const r of s.required ?? []) if (!(r in v)) throw new Error(`${path}: missing ${r}`);
    for (const [k, x] of Object.entries(v)) {
      if (!(k in s.properties)) { if (s.additionalProperties === false) throw new Error(`${path}: extra ${k}`); continue; }
      validate(x, s.properties[k], `${path}.${k}`);
    }
  }
};
const response_format = { type: "json_schema", json_schema: { name: "person", schema, strict: true } };
const started = Date.now();
let schemaTokens = 0;
for (const [seed, temperature] of [[1, 0.7], [2, 1.0], [3, 1.5], [4, 2.0]]) {
  const r = await client.chat.completions.create({ model: "tiny", messages: [{ role: "user", content: "Describe a person as JSON" }],
                                                  response_format, max_tokens: 150, temperature, seed });
  const out = r.choices[0].message.content;
  let value;
  try { value = JSON.parse(out); } catch (e) { fail(`json_schema seed ${seed}: output does not parse: ${out}`); }
  try { validate(value, schema); } catch (e) { fail(`json_schema seed ${seed}: ${e.message}: ${out}`); }
  check(r.choices[0].finish_reason === "stop", `json_schema seed ${seed}: finish ${r.choices[0].finish_reason}`);
  schemaTokens += r.usage.completion_tokens;
  console.log(`  json_schema seed ${seed} temp ${temperature}: ${r.usage.completion_tokens} tokens, valid: ${out.slice(0, 90)}`);
}
console.log(`  json_schema: 4 answers valid, ${schemaTokens} tokens in ${((Date.now() - started) / 1000).toFixed(1)} s`);
// Streamed: the deltas add up to a valid document; a cut by max_tokens says "length".
const schemaStream = await client.chat.completions.create({ model: "tiny", messages: [{ role: "user", content: "JSON please" }],
                                                            response_format, max_tokens: 150, temperature: 1.2, seed: 9, stream: true });
let streamedJson = "", schemaFinish = null;
for await (const chunk of schemaStream) { const c = chunk.choices[0]; if (!c) continue; streamedJson += c.delta.content ?? ""; if (c.finish_reason) schemaFinish = c.finish_reason; }
try { validate(JSON.parse(streamedJson), schema); } catch (e) { fail(`json_schema stream: ${e.message}: ${streamedJson}`); }
check(schemaFinish === "stop", `json_schema stream finish ${schemaFinish}`);
const cut = await client.chat.completions.create({ model: "tiny", messages: [{ role: "user", content: "JSON" }], response_format, max_tokens: 5, seed: 1 });
check(cut.choices[0].finish_reason === "length", `json_schema cut by max_tokens: finish ${cut.choices[0].finish_reason}`);
console.log(`  json_schema stream valid (${streamedJson.length} bytes); max_tokens 5 gives finish "length": ${JSON.stringify(cut.choices[0].message.content)}`);

// 4c. tool_choice "required" and a named function: the random model must call an allowed tool
// with arguments of the tool's schema (constrained in Qwen's <tool_call> format).
const tools = [
  { type: "function", function: { name: "get_weather", parameters: { type: "object", properties: { city: { type: "string", maxLength: 10 },
      unit: { enum: ["c", "f"] } }, required: ["city", "unit"], additionalProperties: false } } },
  { type: "function", function: { name: "get_time", parameters: { type: "object", properties: { zone: { type: "integer" } }, required: ["zone"] } } },
];
for (const [tool_choice, stream] of [["required", false], [{ type: "function", function: { name: "get_time" } }, true]]) {
  const req = { model: "tiny", messages: [{ role: "user", content: "weather?" }], tools, tool_choice, max_tokens: 120, temperature: 1, seed: 5 };
  let calls = [], finish = null;
  if (stream) {
    for await (const chunk of await client.chat.completions.create({ ...req, stream: true })) {
      const c = chunk.choices[0];
      if (!c) continue;
      for (const t of c.delta.tool_calls ?? []) calls.push(t);
      if (c.finish_reason) finish = c.finish_reason;
    }
  } else {
    const r = await client.chat.completions.create(req);
    calls = r.choices[0].message.tool_calls ?? [];
    finish = r.choices[0].finish_reason;
  }
  check(calls.length === 1 && finish === "tool_calls", `tool_choice ${JSON.stringify(tool_choice)}: ${calls.length} calls, finish ${finish}`);
  const fn = calls[0].function, args = JSON.parse(fn.arguments);
  const tool = tools.find((t) => t.function.name === fn.name);
  check(tool && (typeof tool_choice === "string" || fn.name === tool_choice.function.name), `called ${fn.name}`);
  try { validate(args, tool.function.parameters); } catch (e) { fail(`tool arguments ${fn.arguments}: ${e.message}`); }
  console.log(`  tool_choice ${typeof tool_choice === "string" ? tool_choice : fn.name}${stream ? " (stream)" : ""}: ${fn.name}(${fn.arguments.slice(0, 60)})`);
}

// 5. completions and models.
const comp = await client.completions.create({ model: "tiny", prompt: "Once upon a time", max_tokens: 5, temperature: 0 });
check(comp.object === "text_completion" && comp.usage.completion_tokens > 0, "completions");
const models = await client.models.list();
check(models.data.length === 1 && models.data[0].id === "tiny", "models");
console.log(`  completions: ${JSON.stringify(comp.choices[0].text)}; models: ${models.data[0].id}`);

// 6. errors.
const status = async (fn) => { try { await fn(); return 200; } catch (e) { return e.status; } };
const bad = new OpenAI({ baseURL, apiKey: "wrong", maxRetries: 0 });
check(await status(() => bad.chat.completions.create({ model: "tiny", messages })) === 401, "bad key 401");
const long = "hello ".repeat(1000);  // ~1000 tokens, over the --ctx 512 the script starts the server with
check(await status(() => client.chat.completions.create({ model: "tiny", messages: [{ role: "user", content: long }] })) === 400, "over-context 400");
check(await status(() => client.chat.completions.create({ model: "tiny", messages, temperature: 9 })) === 400, "bad temperature 400");
const raw = await fetch(`${baseURL}/chat/completions`, { method: "POST", headers: { Authorization: `Bearer ${apiKey}`, "Content-Type": "application/json" }, body: "{\"messages\": [" });
const body = await raw.json();
check(raw.status === 400 && body.error && body.error.message.includes("JSON"), "malformed JSON 400");
const unsupported = await fetch(`${baseURL}/chat/completions`, { method: "POST", headers: { Authorization: `Bearer ${apiKey}`, "Content-Type": "application/json" },
  body: JSON.stringify({ model: "tiny", messages, response_format: { type: "json_schema", json_schema: { name: "x", schema: { type: "string", pattern: "^a" } } } }) });
const unsupportedBody = await unsupported.json();
check(unsupported.status === 400 && unsupportedBody.error.message.includes("pattern"), `unsupported schema keyword: ${unsupported.status} ${JSON.stringify(unsupportedBody)}`);
console.log(`  errors: bad key 401, over-context 400, bad temperature 400, malformed JSON 400, schema keyword 400 (${unsupportedBody.error.message.slice(0, 60)}...)`);
console.log("PASS");
