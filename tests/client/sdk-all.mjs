// One OpenAI SDK script against every provider kind through aigw:
// non-streamed and streamed answers, tool calls both ways of streaming,
// usage. Prints TAP.
// usage: node sdk-all.mjs BASE_URL API_KEY MODEL...
import OpenAI from "openai";

const [baseURL, apiKey, ...models] = process.argv.slice(2);
const client = new OpenAI({ baseURL, apiKey, maxRetries: 0, timeout: 20000 });
let n = 0, failed = 0;
function ok(cond, name, detail) {
  n++;
  if (cond) console.log(`ok ${n} - ${name}`);
  else { failed++; console.log(`not ok ${n} - ${name}`); if (detail !== undefined) console.log(`#   ${JSON.stringify(detail).slice(0, 400)}`); }
}
const messages = [{ role: "system", content: "Be brief." }, { role: "user", content: "Say hello." }];
const tools = [{ type: "function", function: { name: "get_weather", description: "Weather in a city",
  parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] } } }];

for (const model of models) {
  try {
    const r = await client.chat.completions.create({ model, messages, max_tokens: 50 });
    const text = r.choices[0].message.content;
    ok(/^Hello from [\w-]+!$/.test(text || ""), `${model}: non-stream text`, text);
    ok(r.choices[0].finish_reason === "stop", `${model}: finish_reason stop`, r.choices[0].finish_reason);
    ok(r.usage && r.usage.prompt_tokens > 0 && r.usage.completion_tokens > 0 &&
       r.usage.total_tokens === r.usage.prompt_tokens + r.usage.completion_tokens, `${model}: usage`, r.usage);

    const s = await client.chat.completions.create({ model, messages, max_tokens: 50, stream: true,
      stream_options: { include_usage: true } });
    let st = "", deltas = 0, usage = null, finish = null;
    for await (const c of s) {
      if (c.usage) usage = c.usage;
      const ch = c.choices[0];
      if (ch?.delta?.content) { st += ch.delta.content; deltas++; }
      if (ch?.finish_reason) finish = ch.finish_reason;
    }
    ok(st === text && deltas >= 2, `${model}: streamed text equals the answer (${deltas} deltas)`, st);
    ok(finish === "stop", `${model}: stream finish_reason`, finish);
    ok(usage && usage.completion_tokens > 0, `${model}: stream usage chunk`, usage);

    const t = await client.chat.completions.create({ model, messages: [{ role: "user", content: "Weather in Paris?" }], tools });
    const call = t.choices[0].message.tool_calls?.[0];
    ok(call && call.function.name === "get_weather" && JSON.parse(call.function.arguments).city === "Paris" &&
       t.choices[0].finish_reason === "tool_calls", `${model}: tool call`, t.choices[0]);

    const ts = await client.chat.completions.create({ model, messages: [{ role: "user", content: "Weather in Paris?" }], tools, stream: true });
    let args = "", name = null, id = null;
    for await (const c of ts) for (const tc of c.choices[0]?.delta?.tool_calls || []) {
      if (tc.function?.name) name = tc.function.name;
      if (tc.id) id = tc.id;
      args += tc.function?.arguments || "";
    }
    let parsed = null;
    try { parsed = JSON.parse(args); } catch {}
    ok(name === "get_weather" && id && parsed?.city === "Paris", `${model}: streamed tool call`, { name, id, args });

    if (call) {
      const f = await client.chat.completions.create({ model, tools, messages: [
        { role: "user", content: "Weather in Paris?" },
        { role: "assistant", content: null, tool_calls: [call] },
        { role: "tool", tool_call_id: call.id, content: '{"temp_c":21}' }] });
      ok(f.choices.length === 1, `${model}: tool result round trip accepted`, f.choices);
    }
  } catch (e) {
    ok(false, `${model}: unexpected exception`, String(e));
  }
}
console.log(`1..${n}`);
process.exit(failed ? 1 : 0);
