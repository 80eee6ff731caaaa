// The official `openai` npm client against aigw's Anthropic route:
// non-streaming and streaming chat, tool calls both ways, typed errors.
// Prints TAP.
// usage: node sdk-anthropic.mjs BASE_URL API_KEY
import OpenAI from "openai";

const [baseURL, apiKey] = process.argv.slice(2);
const client = new OpenAI({ baseURL, apiKey, maxRetries: 0, timeout: 20000 });
const model = "claude-sonnet-4-5";
let n = 0, failed = 0;
function ok(cond, name, detail) {
  n++;
  if (cond) console.log(`ok ${n} - ${name}`);
  else { failed++; console.log(`not ok ${n} - ${name}`); if (detail !== undefined) console.log(`#   ${JSON.stringify(detail)}`); }
}

const messages = [{ role: "system", content: "Be brief." }, { role: "user", content: "hello from the SDK" }];
const tools = [{ type: "function", function: { name: "get_weather", description: "Current weather",
  parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] } } }];
try {
  const r = await client.chat.completions.create({ model, messages, max_tokens: 100 });
  ok(r.choices[0].message.content === "Hello from anthropic!", "sdk anthropic: non-stream content", r);
  ok(r.choices[0].finish_reason === "stop", "sdk anthropic: finish_reason stop", r.choices[0]);
  ok(r.usage && r.usage.completion_tokens === 5 && r.usage.prompt_tokens_details?.cached_tokens === 8,
    "sdk anthropic: usage with cached tokens", r.usage);
  ok(/^claude-sonnet-4-5-\d{8}$/.test(r.model), "sdk anthropic: served snapshot model", r.model);

  const stream = await client.chat.completions.create({ model, messages, stream: true,
    stream_options: { include_usage: true } });
  let text = "", deltas = 0, finish = null, usage = null;
  for await (const c of stream) {
    if (c.choices[0]?.delta?.content) { text += c.choices[0].delta.content; deltas++; }
    if (c.choices[0]?.finish_reason) finish = c.choices[0].finish_reason;
    if (c.usage) usage = c.usage;
  }
  ok(text === "Hello from anthropic!" && deltas === 3, "sdk anthropic: streamed text in 3 deltas", { text, deltas });
  ok(finish === "stop", "sdk anthropic: stream finish_reason", finish);
  ok(usage && usage.completion_tokens === 5, "sdk anthropic: stream usage chunk", usage);

  // the SDK's stream helper assembles tool calls from the deltas
  const ts = client.beta.chat.completions.stream({ model, messages, tools, tool_choice: "required" });
  const final = await ts.finalChatCompletion();
  const call = final.choices[0].message.tool_calls?.[0];
  ok(call && call.function.name === "get_weather" && JSON.parse(call.function.arguments).city === "Paris",
    "sdk anthropic: streamed tool call assembled", final.choices[0]);
  ok(final.choices[0].finish_reason === "tool_calls", "sdk anthropic: stream finish tool_calls", final.choices[0]);

  const t = await client.chat.completions.create({ model, messages, tools });
  const tc = t.choices[0].message.tool_calls?.[0];
  ok(tc && tc.type === "function" && tc.function.name === "get_weather" && /^toolu_/.test(tc.id),
    "sdk anthropic: tool call", t.choices[0]);
  ok(tc && JSON.parse(tc.function.arguments).city === "Paris", "sdk anthropic: tool arguments are JSON", tc);

  const follow = await client.chat.completions.create({ model, tools, messages: [...messages,
    t.choices[0].message, { role: "tool", tool_call_id: tc.id, content: "18C and sunny" }] });
  // (the mock answers every request with tools by calling the first tool)
  ok(follow.choices[0].finish_reason === "tool_calls", "sdk anthropic: tool result accepted upstream", follow);

  try {
    await client.chat.completions.create({ model: "claude-error-429", messages });
    ok(false, "sdk anthropic: 429 raises");
  } catch (e) {
    ok(e instanceof OpenAI.RateLimitError && e.code === "rate_limit_error" &&
       e.headers?.["retry-after"] === "7", "sdk anthropic: 429 is a RateLimitError with Retry-After",
       { msg: e.message, code: e.code });
  }
} catch (e) {
  ok(false, "sdk anthropic: unexpected exception", String(e));
}
console.log(`1..${n}`);
process.exit(failed ? 1 : 0);
