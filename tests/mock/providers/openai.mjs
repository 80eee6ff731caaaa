// OpenAI Chat Completions and Embeddings in the real wire format, under
// /openai (provider "openai") and, with the quirks of OpenAI-compatible
// servers (no system_fingerprint, SSE keep-alive comments, usage only when
// stream_options.include_usage asks), under /compat (see compat.mjs).
// Follows the reply conventions of README.md.
import { randomBytes } from "node:crypto";

export const prefix = "/openai";
export const KEY = "sk-openai-CANARY-0001";

export function makeHandler(name, opts = {}) {
  return async function handle(req, res, body, ctx) {
    const path = req.url.split("?")[0];
    const key = opts.key ?? KEY;
    if (key && req.headers.authorization !== `Bearer ${key}`)
      return ctx.json(401, { error: { message: "Incorrect API key provided.", type: "invalid_request_error", param: null, code: "invalid_api_key" } });
    let r;
    try { r = JSON.parse(body.toString("utf8")); } catch {
      return ctx.json(400, { error: { message: "We could not parse the JSON body of your request.", type: "invalid_request_error", param: null, code: null } });
    }
    const model = String(r.model || "");
    if (model.includes("error-429"))
      return ctx.json(429, { error: { message: "Rate limit reached for requests", type: "requests", param: null, code: "rate_limit_exceeded" } }, { "retry-after": "7" });
    if (model.includes("error-500")) {
      res.writeHead(502, { "content-type": "text/html" });
      return res.end("<html><body><h1>502 Bad Gateway</h1></body></html>");
    }
    if (path.endsWith("/embeddings")) {
      const inputs = Array.isArray(r.input) ? r.input : [r.input];
      const p = inputs.reduce((n, s) => n + Math.max(1, Math.ceil(String(s).length / 4)), 0);
      ctx.count(p, 0);
      return ctx.json(200, { object: "list", model, data: inputs.map((_, i) => ({ object: "embedding", index: i, embedding: [0.01 * (i + 1), 0.02, -0.03] })), usage: { prompt_tokens: p, total_tokens: p } });
    }
    if (!path.endsWith("/chat/completions") || !Array.isArray(r.messages))
      return ctx.json(404, { error: { message: "Unknown request URL", type: "invalid_request_error", param: null, code: "unknown_url" } });
    const id = "chatcmpl-" + randomBytes(12).toString("hex");
    const created = Math.floor(Date.now() / 1000);
    const tool = Array.isArray(r.tools) && r.tools.length ? r.tools[0].function.name : null;
    const text = ["Hello", ` from ${name}`, "!"];
    const usage = { prompt_tokens: 13, completion_tokens: tool ? 9 : 3, total_tokens: tool ? 22 : 16, prompt_tokens_details: { cached_tokens: 4 } };
    const nousage = model.includes("nousage");
    const fp = opts.quirks ? {} : { system_fingerprint: "fp_mock" };
    const call = { id: "call_" + randomBytes(8).toString("hex"), type: "function", function: { name: tool, arguments: '{"city":"Paris"}' } };
    if (!r.stream) {
      if (!nousage) ctx.count(usage.prompt_tokens, usage.completion_tokens);
      const message = tool ? { role: "assistant", content: null, tool_calls: [call], refusal: null } : { role: "assistant", content: text.join(""), refusal: null };
      return ctx.json(200, { id, object: "chat.completion", created, model, ...fp, choices: [{ index: 0, message, logprobs: null, finish_reason: tool ? "tool_calls" : "stop" }], ...(nousage ? {} : { usage }) });
    }
    const wantUsage = r.stream_options?.include_usage === true;
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
    const send = (choices, extra = {}) => res.write(`data: ${JSON.stringify({ id, object: "chat.completion.chunk", created, model, ...fp, choices, ...(wantUsage && !opts.quirks ? { usage: null } : {}), ...extra })}\n\n`);
    if (opts.quirks) res.write(": keep-alive\n\n");
    send([{ index: 0, delta: { role: "assistant", content: "" }, logprobs: null, finish_reason: null }]);
    if (tool) {
      send([{ index: 0, delta: { tool_calls: [{ index: 0, id: call.id, type: "function", function: { name: tool, arguments: "" } }] }, logprobs: null, finish_reason: null }]);
      for (const part of ['{"city"', ':"Paris"}'])
        send([{ index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: part } }] }, logprobs: null, finish_reason: null }]);
    } else {
      for (const t of text) {
        send([{ index: 0, delta: { content: t }, logprobs: null, finish_reason: null }]);
        if (model.includes("truncate")) return res.destroy();
      }
    }
    send([{ index: 0, delta: {}, logprobs: null, finish_reason: tool ? "tool_calls" : "stop" }]);
    if (!nousage) ctx.count(usage.prompt_tokens, usage.completion_tokens);
    if (wantUsage && !nousage) send([], { usage });
    res.end("data: [DONE]\n\n");
  };
}

export const handle = makeHandler("openai");
