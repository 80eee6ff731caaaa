// The official `openai` npm client against a Gemini-dialect route of aigw
// (gemini or vertex): non-streaming and streaming chat, a tool call both
// ways, and a typed rate-limit error. Prints TAP.
// usage: node sdk-gemini.mjs BASE_URL API_KEY MODEL NAME [ERROR_429_MODEL]
//   NAME is the mock's provider name in "Hello from NAME!"
import OpenAI from "openai";

const [baseURL, apiKey, model, name, model429] = process.argv.slice(2);
const client = new OpenAI({ baseURL, apiKey, maxRetries: 0, timeout: 20000 });
let n = 0, failed = 0;
function ok(cond, what, detail) {
  n++;
  if (cond) console.log(`ok ${n} - ${what}`);
  else { failed++; console.log(`not ok ${n} - ${what}`); if (detail !== undefined) console.log(`#   ${JSON.stringify(detail)}`); }
}

const hello = `Hello from ${name}!`;
const messages = [{ role: "system", content: "You are terse." },
                  { role: "user", content: "hello from the SDK" }];
const tools = [{ type: "function", function: {
  name: "get_weather", description: "Current weather for a city",
  parameters: { type: "object", additionalProperties: false,
                properties: { city: { type: "string" } }, required: ["city"] } } }];
try {
  const r = await client.chat.completions.create({ model, messages, max_tokens: 50 });
  ok(r.choices[0].message.content === hello, `sdk ${name}: non-stream content`, r);
  ok(r.choices[0].finish_reason === "stop", `sdk ${name}: finish_reason stop`, r.choices[0]);
  ok(r.usage && r.usage.completion_tokens > 0 && r.usage.total_tokens ===
     r.usage.prompt_tokens + r.usage.completion_tokens, `sdk ${name}: usage`, r.usage);

  const stream = await client.chat.completions.create({ model, messages, stream: true });
  let text = "", usage = null, finish = null;
  for await (const c of stream) {
    if (c.choices[0]?.delta?.content) text += c.choices[0].delta.content;
    if (c.choices[0]?.finish_reason) finish = c.choices[0].finish_reason;
    if (c.usage) usage = c.usage;
  }
  ok(text === hello, `sdk ${name}: streamed text assembled`, text);
  ok(finish === "stop", `sdk ${name}: streamed finish_reason`, finish);
  ok(usage === null, `sdk ${name}: no usage chunk unless asked`, usage);

  const s2 = await client.chat.completions.create({
    model, messages, stream: true, stream_options: { include_usage: true } });
  usage = null;
  for await (const c of s2) if (c.usage) usage = c.usage;
  ok(usage && usage.completion_tokens > 0, `sdk ${name}: usage chunk when asked`, usage);

  const t = await client.chat.completions.create({
    model, tools, tool_choice: "auto",
    messages: [{ role: "user", content: "Weather in Paris?" }] });
  const call = t.choices[0].message.tool_calls?.[0];
  ok(t.choices[0].finish_reason === "tool_calls" && call?.function.name === "get_weather" &&
     JSON.parse(call.function.arguments).city === "Paris", `sdk ${name}: tool call`, t.choices[0]);

  const f = await client.chat.completions.create({
    model, tools, messages: [
      { role: "user", content: "Weather in Paris?" },
      t.choices[0].message,
      { role: "tool", tool_call_id: call?.id, content: JSON.stringify({ temp_c: 21 }) }],
    tool_choice: "none" });
  ok(f.choices[0].message.content === hello, `sdk ${name}: tool result accepted`, f.choices[0]);

  const ts = await client.chat.completions.create({
    model, tools, stream: true, messages: [{ role: "user", content: "Weather?" }] });
  const calls = {};
  let tfinish = null;
  for await (const c of ts) {
    for (const d of c.choices[0]?.delta?.tool_calls || []) {
      calls[d.index] ??= { id: "", name: "", args: "" };
      if (d.id) calls[d.index].id = d.id;
      if (d.function?.name) calls[d.index].name += d.function.name;
      if (d.function?.arguments) calls[d.index].args += d.function.arguments;
    }
    if (c.choices[0]?.finish_reason) tfinish = c.choices[0].finish_reason;
  }
  ok(calls[0]?.name === "get_weather" && JSON.parse(calls[0].args).city === "Paris" &&
     calls[0].id && tfinish === "tool_calls", `sdk ${name}: streamed tool call`, { calls, tfinish });

  if (model429) {
    try {
      await client.chat.completions.create({ model: model429, messages });
      ok(false, `sdk ${name}: 429 raises`);
    } catch (e) {
      ok(e instanceof OpenAI.RateLimitError && e.code === "RESOURCE_EXHAUSTED",
         `sdk ${name}: 429 is a RateLimitError`, e.message);
    }
  }
} catch (e) {
  ok(false, `sdk ${name}: unexpected exception`, String(e));
}
console.log(`1..${n}`);
process.exit(failed ? 1 : 0);
