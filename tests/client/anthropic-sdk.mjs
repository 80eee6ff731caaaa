// The official @anthropic-ai/sdk client against aigw's Messages API
// (POST {prefix}/messages): non-streaming, messages.stream(), a tool use
// round and typed errors. Prints TAP.
// usage: node anthropic-sdk.mjs GATEWAY_URL API_KEY
//   GATEWAY_URL/v1/messages is the default route (the C mock, model
//   mock-gpt); GATEWAY_URL/azure/v1/messages the Azure mock (tools).
import Anthropic from "@anthropic-ai/sdk";

const [gw, apiKey] = process.argv.slice(2);
const opts = { apiKey, maxRetries: 0, timeout: 20000 };
const mock = new Anthropic({ ...opts, baseURL: gw });
const azure = new Anthropic({ ...opts, baseURL: `${gw}/azure` });
let n = 0, failed = 0;
function ok(cond, name, detail) {
  n++;
  if (cond) console.log(`ok ${n} - ${name}`);
  else { failed++; console.log(`not ok ${n} - ${name}`); if (detail !== undefined) console.log(`#   ${JSON.stringify(detail)}`); }
}

const MOCK_TEXT = "mock0 mock1 mock2 mock3 mock4";
const messages = [{ role: "user", content: "hello from the Anthropic SDK" }];
const tools = [{ name: "get_weather", description: "Weather in a city",
  input_schema: { type: "object", properties: { city: { type: "string" } }, required: ["city"] } }];
try {
  const r = await mock.messages.create({ model: "mock-gpt", max_tokens: 100, system: "Be brief.", messages });
  ok(r.type === "message" && r.role === "assistant" && /^msg_/.test(r.id), "anthropic sdk: a message", r);
  ok(r.content[0]?.type === "text" && r.content[0].text === MOCK_TEXT, "anthropic sdk: text content", r.content);
  ok(r.stop_reason === "end_turn" && r.stop_sequence === null, "anthropic sdk: stop_reason end_turn", r.stop_reason);
  ok(r.usage.output_tokens === 5 && r.usage.input_tokens > 0, "anthropic sdk: usage", r.usage);

  const { data, response } = await mock.messages.create({ model: "mock-gpt", max_tokens: 100, messages }).withResponse();
  ok(/^[0-9a-f-]{36}$/.test(response.headers.get("x-request-id") || "") && data.id.startsWith("msg_"),
     "anthropic sdk: x-request-id header", data.id);

  const stream = mock.messages.stream({ model: "mock-gpt", max_tokens: 100, messages });
  let text = "", events = [];
  stream.on("text", (t) => { text += t; });
  stream.on("streamEvent", (e) => events.push(e.type));
  const fin = await stream.finalMessage();
  ok(text === MOCK_TEXT, "anthropic sdk: streamed text collected", text);
  ok(events[0] === "message_start" && events.at(-1) === "message_stop", "anthropic sdk: event order", events);
  ok(fin.content[0]?.text === MOCK_TEXT && fin.stop_reason === "end_turn", "anthropic sdk: finalMessage", fin);
  ok(fin.usage.output_tokens === 5 && fin.usage.input_tokens > 0, "anthropic sdk: finalMessage usage", fin.usage);

  const t = await azure.messages.create({ model: "gpt-4o", max_tokens: 100, tools, messages });
  const use = t.content.find((b) => b.type === "tool_use");
  ok(t.stop_reason === "tool_use" && use?.name === "get_weather" && use.input.city === "Paris",
     "anthropic sdk: tool_use block", t);
  const back = await azure.messages.create({ model: "gpt-4o", max_tokens: 100, tools, messages: [
    ...messages, { role: "assistant", content: t.content },
    { role: "user", content: [{ type: "tool_result", tool_use_id: use.id, content: "18C, sunny" }] }] });
  ok(back.content[0]?.text === "Hello from azure!" && back.stop_reason === "end_turn",
     "anthropic sdk: tool_result round answered", back);

  const ts = azure.messages.stream({ model: "gpt-4o", max_tokens: 100, tools, messages });
  const tfin = await ts.finalMessage();
  const tuse = tfin.content.find((b) => b.type === "tool_use");
  ok(tfin.stop_reason === "tool_use" && tuse?.input?.city === "Paris", "anthropic sdk: streamed tool_use input", tfin);

  try {
    await mock.messages.create({ model: "no-such-model", max_tokens: 10, messages });
    ok(false, "anthropic sdk: unknown model raises");
  } catch (e) {
    ok(e instanceof Anthropic.NotFoundError && e.error?.error?.type === "not_found_error",
       "anthropic sdk: unknown model is a NotFoundError", e.message);
  }
  try {
    await azure.messages.create({ model: "azure-error-429", max_tokens: 10, messages });
    ok(false, "anthropic sdk: 429 raises");
  } catch (e) {
    ok(e instanceof Anthropic.RateLimitError && e.headers?.get("retry-after") === "7",
       "anthropic sdk: 429 is a RateLimitError with retry-after", e.message);
  }
  try {
    await azure.messages.stream({ model: "azure-truncate", max_tokens: 10, messages }).finalMessage();
    ok(false, "anthropic sdk: broken stream raises");
  } catch (e) {
    ok(e instanceof Anthropic.APIError && /upstream_truncated/.test(e.message),
       "anthropic sdk: broken stream raises from the error event", e.message);
  }
} catch (e) {
  ok(false, "anthropic sdk: unexpected exception", String(e.stack || e));
}
console.log(`1..${n}`);
process.exit(failed ? 1 : 0);
