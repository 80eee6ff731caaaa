// The official `openai` npm client against aigw's Bedrock route: chat
// (non-stream, stream with usage), a tool call both ways, embeddings and
// a typed rate-limit error. Prints TAP.
// usage: node sdk-bedrock.mjs BASE_URL API_KEY
import OpenAI from "openai";

const [baseURL, apiKey] = process.argv.slice(2);
const client = new OpenAI({ baseURL, apiKey, maxRetries: 0, timeout: 20000 });
const model = "anthropic.claude-3-haiku-20240307-v1:0";
let n = 0, failed = 0;
function ok(cond, name, detail) {
  n++;
  if (cond) console.log(`ok ${n} - ${name}`);
  else {
    failed++;
    console.log(`not ok ${n} - ${name}`);
    if (detail !== undefined) console.log(`#   ${JSON.stringify(detail)}`);
  }
}

const messages = [{ role: "user", content: "hello from the SDK" }];
const tools = [{ type: "function", function: { name: "get_weather",
  description: "Weather for a city",
  parameters: { type: "object", properties: { city: { type: "string" } } } } }];
try {
  const r = await client.chat.completions.create({ model, messages });
  ok(r.choices[0].message.content === "Hello from bedrock!", "sdk bedrock: non-stream content", r);
  ok(r.usage && r.usage.completion_tokens === 5 && r.usage.prompt_tokens > 0,
     "sdk bedrock: non-stream usage", r.usage);

  const s = await client.chat.completions.create({
    model, messages, stream: true, stream_options: { include_usage: true } });
  let text = "", usage = null, finish = null;
  for await (const c of s) {
    if (c.choices[0]?.delta?.content) text += c.choices[0].delta.content;
    if (c.choices[0]?.finish_reason) finish = c.choices[0].finish_reason;
    if (c.usage) usage = c.usage;
  }
  ok(text === "Hello from bedrock!" && finish === "stop", "sdk bedrock: streamed text", { text, finish });
  ok(usage && usage.completion_tokens === 5, "sdk bedrock: stream usage chunk", usage);

  const t = await client.chat.completions.create({
    model, messages: [{ role: "user", content: "Weather in Paris?" }], tools });
  const call = t.choices[0].message.tool_calls?.[0];
  ok(t.choices[0].finish_reason === "tool_calls" && call?.function.name === "get_weather" &&
     JSON.parse(call.function.arguments).city === "Paris", "sdk bedrock: tool call", t.choices[0]);

  const ts = await client.chat.completions.create({
    model, messages: [{ role: "user", content: "Weather in Paris?" }], tools, stream: true });
  let args = "", id = null;
  for await (const c of ts) {
    const tc = c.choices[0]?.delta?.tool_calls?.[0];
    if (tc?.id) id = tc.id;
    if (tc?.function?.arguments) args += tc.function.arguments;
  }
  ok(id === call?.id && JSON.parse(args).city === "Paris", "sdk bedrock: streamed tool call", { id, args });

  const f = await client.chat.completions.create({ model, tools, messages: [
    { role: "user", content: "Weather in Paris?" }, t.choices[0].message,
    { role: "tool", tool_call_id: call.id, content: "18C and sunny" }] });
  ok(f.choices.length === 1, "sdk bedrock: tool result sent back", f);

  const e = await client.embeddings.create({ model: "amazon.titan-embed-text-v2:0", input: "hello" });
  ok(e.data.length === 1 && e.data[0].embedding.length > 0 && e.usage.prompt_tokens > 0,
     "sdk bedrock: embeddings", e.usage);

  try {
    await client.chat.completions.create({ model: "bedrock-error-429", messages });
    ok(false, "sdk bedrock: 429 raises");
  } catch (err) {
    const h = err.headers;
    const ra = typeof h?.get === "function" ? h.get("retry-after") : h?.["retry-after"];
    ok(err instanceof OpenAI.RateLimitError && ra === "7",
       "sdk bedrock: 429 is a RateLimitError with Retry-After", err.message);
  }
} catch (e) {
  ok(false, "sdk bedrock: unexpected exception", String(e));
}
console.log(`1..${n}`);
process.exit(failed ? 1 : 0);
