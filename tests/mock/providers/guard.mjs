// Guardrail mocks under /guard (Node.js, standard library only):
//   /guard/hook/request, /guard/hook/response: an example guardrail webhook
//     in agentgateway's contract: {"body":{"messages"|"choices":[...]}} in,
//     {"action":{...}} out (pass {reason}, mask {body,reason}, reject
//     {body,status_code,reason}). Its policy, for the tests:
//       "BLOCKME" -> reject 422; "project-x" -> mask as "[REDACTED]";
//       "SLOWHOOK" -> answer after 3 s; "HOOK500" -> HTTP 500.
//   /guard/v1/moderations: OpenAI moderation; "kill" flags violence,
//     "MODSLOW" answers after 3 s.
//   /guard/v1/chat/completions: echoes the last user message back (so
//     response guards can be driven); streamed in pieces of N characters
//     for model "echo-N" (default 4).
import { randomBytes } from "node:crypto";

export const prefix = "/guard";
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function hookText(list) {
  return list.map((m) => (m.message ? m.message.content : m.content) || "").join("\n");
}

async function hook(phase, r, res, ctx) {
  const list = phase === "request" ? r.body.messages : r.body.choices;
  const text = hookText(list);
  if (text.includes("SLOWHOOK")) await sleep(3000);
  if (text.includes("HOOK500")) return ctx.json(500, { error: "boom" });
  if (text.includes("BLOCKME"))
    return ctx.json(200, { action: { body: `blocked by policy (${phase})`, status_code: 422, reason: "keyword" } });
  if (text.includes("project-x")) {
    const fix = (s) => String(s).replaceAll("project-x", "[REDACTED]");
    const body = phase === "request"
      ? { messages: list.map((m) => ({ role: m.role, content: fix(m.content) })) }
      : { choices: list.map((c) => ({ message: { role: c.message.role, content: fix(c.message.content) } })) };
    return ctx.json(200, { action: { body, reason: "codename" } });
  }
  return ctx.json(200, { action: { reason: "clean" } });
}

export async function handle(req, res, body, ctx) {
  const path = req.url.split("?")[0].slice(prefix.length);
  let r;
  try { r = JSON.parse(body.toString("utf8")); } catch { return ctx.json(400, { error: { message: "bad json" } }); }
  if (path === "/hook/request") return hook("request", r, res, ctx);
  if (path === "/hook/response") return hook("response", r, res, ctx);
  if (path === "/v1/moderations") {
    const input = String(r.input);
    if (input.includes("MODSLOW")) await sleep(3000);
    const violence = input.includes("kill");
    return ctx.json(200, { id: "modr-1", model: r.model, results: [{ flagged: violence, categories: { violence, harassment: false, "self-harm": false }, category_scores: { violence: violence ? 0.9 : 0.01 } }] });
  }
  if (path !== "/v1/chat/completions") return ctx.json(404, { error: { message: "no such mock path" } });
  const last = [...r.messages].reverse().find((m) => m.role === "user");
  const text = typeof last?.content === "string" ? last.content : "";
  const id = "chatcmpl-" + randomBytes(8).toString("hex");
  const created = Math.floor(Date.now() / 1000);
  const usage = { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 };
  ctx.count(10, 5);
  if (!r.stream)
    return ctx.json(200, { id, object: "chat.completion", created, model: r.model, choices: [{ index: 0, message: { role: "assistant", content: text }, finish_reason: "stop" }], usage });
  const n = Number((/^echo-(\d+)$/.exec(r.model) || [])[1] || 4);
  res.writeHead(200, { "content-type": "text/event-stream" });
  const send = (choices, extra = {}) => res.write(`data: ${JSON.stringify({ id, object: "chat.completion.chunk", created, model: r.model, choices, ...extra })}\n\n`);
  send([{ index: 0, delta: { role: "assistant", content: "" }, finish_reason: null }]);
  const chars = [...text];
  for (let i = 0; i < chars.length; i += n) {
    send([{ index: 0, delta: { content: chars.slice(i, i + n).join("") }, finish_reason: null }]);
    await sleep(2);
  }
  send([{ index: 0, delta: {}, finish_reason: "stop" }]);
  if (r.stream_options?.include_usage) send([], { usage });
  res.end("data: [DONE]\n\n");
}
