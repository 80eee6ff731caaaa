// The official `openai` npm client against aigw's Azure OpenAI route:
// non-streaming, streaming and a tool call. Prints TAP.
// usage: node sdk-azure.mjs BASE_URL API_KEY
import OpenAI from "openai";

const [baseURL, apiKey] = process.argv.slice(2);
const client = new OpenAI({ baseURL, apiKey, maxRetries: 0, timeout: 20000 });
let n = 0, failed = 0;
function ok(cond, name, detail) {
  n++;
  if (cond) console.log(`ok ${n} - ${name}`);
  else { failed++; console.log(`not ok ${n} - ${name}`); if (detail !== undefined) console.log(`#   ${JSON.stringify(detail)}`); }
}

const model = "gpt-4o";
const messages = [{ role: "user", content: "hello from the SDK" }];
const tools = [{ type: "function", function: { name: "get_weather", description: "Weather in a city",
  parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] } } }];
try {
  const r = await client.chat.completions.create({ model, messages });
  ok(r.choices[0].message.content === "Hello from azure!", "sdk azure: non-stream content", r);
  ok(r.usage && r.usage.completion_tokens === 3, "sdk azure: non-stream usage", r.usage);

  const stream = await client.chat.completions.create({
    model, messages, stream: true, stream_options: { include_usage: true } });
  let text = "", usage = null, finish = null, empty = 0;
  for await (const c of stream) {
    if (c.choices.length === 0 && !c.usage) empty++;
    if (c.choices[0]?.delta?.content) text += c.choices[0].delta.content;
    if (c.choices[0]?.finish_reason) finish = c.choices[0].finish_reason;
    if (c.usage) usage = c.usage;
  }
  ok(text === "Hello from azure!", "sdk azure: streamed text assembled", text);
  ok(finish === "stop", "sdk azure: stream finish_reason", finish);
  ok(usage && usage.completion_tokens === 3, "sdk azure: stream usage chunk", usage);
  ok(empty === 0, "sdk azure: no chunk without choices or usage", empty);

  const t = await client.chat.completions.create({ model, messages, tools });
  const call = t.choices[0].message.tool_calls?.[0];
  ok(call && call.function.name === "get_weather" &&
     JSON.parse(call.function.arguments).city === "Paris", "sdk azure: tool call", t.choices[0]);

  const runner = client.beta.chat.completions.stream({ model, messages, tools });
  const final = await runner.finalChatCompletion();
  const sc = final.choices[0].message.tool_calls?.[0];
  ok(sc && JSON.parse(sc.function.arguments).city === "Paris" &&
     final.choices[0].finish_reason === "tool_calls", "sdk azure: streamed tool call (stream helper)", final.choices[0]);

  const back = await client.chat.completions.create({ model, tools, messages: [
    ...messages, t.choices[0].message,
    { role: "tool", tool_call_id: call.id, content: "18C, sunny" }] });
  ok(back.choices[0].message.content === "Hello from azure!", "sdk azure: tool result round", back.choices[0]);

  try {
    await client.chat.completions.create({ model: "azure-error-429", messages });
    ok(false, "sdk azure: 429 raises");
  } catch (e) {
    ok(e instanceof OpenAI.RateLimitError && e.headers?.["retry-after"] === "7",
       "sdk azure: 429 is a RateLimitError with Retry-After", e.message);
  }
} catch (e) {
  ok(false, "sdk azure: unexpected exception", String(e));
}
console.log(`1..${n}`);
process.exit(failed ? 1 : 0);
