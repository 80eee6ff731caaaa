// The official `openai` npm client pointed at aigw: non-streaming and
// streaming chat, models, and a typed error. Prints TAP.
// usage: node openai-sdk.mjs BASE_URL API_KEY
import OpenAI from "openai";

const [baseURL, apiKey] = process.argv.slice(2);
const client = new OpenAI({ baseURL, apiKey, maxRetries: 0, timeout: 20000 });
let n = 0, failed = 0;
function ok(cond, name, detail) {
  n++;
  if (cond) console.log(`ok ${n} - ${name}`);
  else { failed++; console.log(`not ok ${n} - ${name}`); if (detail !== undefined) console.log(`#   ${JSON.stringify(detail)}`); }
}

const messages = [{ role: "user", content: "hello from the SDK" }];
try {
  const r = await client.chat.completions.create({ model: "mock-gpt", messages });
  ok(r.choices[0].message.content === "mock0 mock1 mock2 mock3 mock4", "sdk: non-stream content", r);
  ok(r.usage && r.usage.completion_tokens === 5, "sdk: non-stream usage", r.usage);

  const { data, response } = await client.chat.completions
    .create({ model: "mock-gpt", messages }).withResponse();
  ok(/^[0-9a-f-]{36}$/.test(response.headers.get("x-request-id") || ""), "sdk: x-request-id header", data.id);

  const stream = await client.chat.completions.create({ model: "mock-gpt", messages, stream: true });
  let text = "", chunks = 0, usage = null;
  for await (const c of stream) {
    chunks++;
    if (c.choices[0]?.delta?.content) text += c.choices[0].delta.content;
    if (c.usage) usage = c.usage;
  }
  ok(text === "mock0 mock1 mock2 mock3 mock4", "sdk: streamed text assembled", text);
  ok(usage === null, "sdk: no usage chunk unless asked", usage);

  const s2 = await client.chat.completions.create({
    model: "mock-gpt", messages, stream: true, stream_options: { include_usage: true } });
  usage = null;
  for await (const c of s2) if (c.usage) usage = c.usage;
  ok(usage && usage.completion_tokens === 5 && usage.total_tokens > 5, "sdk: usage chunk when asked", usage);

  const models = [];
  for await (const m of client.models.list()) models.push(m.id);
  ok(models.includes("mock-gpt"), "sdk: models.list", models);

  try {
    await client.chat.completions.create({ model: "no-such-model", messages });
    ok(false, "sdk: unknown model raises");
  } catch (e) {
    ok(e instanceof OpenAI.NotFoundError && e.code === "model_not_found", "sdk: unknown model is a NotFoundError", e.message);
  }
  try {
    await new OpenAI({ baseURL, apiKey: "sk-wrong", maxRetries: 0 }).chat.completions.create({ model: "mock-gpt", messages });
    ok(false, "sdk: bad key raises");
  } catch (e) {
    ok(e instanceof OpenAI.AuthenticationError, "sdk: bad key is an AuthenticationError", e.message);
  }
} catch (e) {
  ok(false, "sdk: unexpected exception", String(e));
}
console.log(`1..${n}`);
process.exit(failed ? 1 : 0);
