// Anthropic Messages API mock: POST /anthropic/v1/messages, in the real
// wire format (msg_/toolu_ ids, content blocks, stop_reason, usage with
// cache fields, named SSE events, {"type":"error","error":{...}} errors).
// Strict like the real API: x-api-key and anthropic-version headers,
// max_tokens required, no unknown top-level fields, user/assistant turns
// alternating, tool_result blocks answering the previous tool_use ids.
// Models (besides the README conventions): "error-529" -> 529
// overloaded_error; "error-event" -> an SSE error event after the first
// text delta. max_tokens below 5 cuts the text: stop_reason max_tokens.
import { randomBytes } from "node:crypto";

export const prefix = "/anthropic";

const KEY = "sk-ant-CANARY-anthropic-0001";
const TOP = new Set(["model", "messages", "system", "max_tokens", "metadata",
  "stop_sequences", "stream", "temperature", "top_p", "top_k", "tools",
  "tool_choice", "thinking", "service_tier"]);
const B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

function rid(pfx) {
  let s = "";
  for (const b of randomBytes(24)) s += B62[b % 62];
  return pfx + "01" + s.slice(0, 22);
}

function error(ctx, status, type, message, headers = {}) {
  ctx.json(status, { type: "error", error: { type, message }, request_id: rid("req_") },
    { "request-id": rid("req_"), ...headers });
}

// The problem with the request, as the real API words it, or null.
function invalid(req) {
  if (!req || typeof req !== "object" || Array.isArray(req)) return "body: Input should be an object";
  for (const k of Object.keys(req)) if (!TOP.has(k)) return `${k}: Extra inputs are not permitted`;
  if (typeof req.model !== "string") return "model: Field required";
  if (!Number.isInteger(req.max_tokens)) return "max_tokens: Field required";
  if (req.max_tokens < 1) return "max_tokens: Input should be greater than or equal to 1";
  if (req.system !== undefined && typeof req.system !== "string" &&
      !(Array.isArray(req.system) && req.system.every((b) => b.type === "text" && b.text)))
    return "system: Input should be a valid string or a list of text blocks";
  if (req.stop_sequences !== undefined && !(Array.isArray(req.stop_sequences) &&
      req.stop_sequences.every((s) => typeof s === "string")))
    return "stop_sequences: Input should be a valid list of strings";
  if (!Array.isArray(req.messages) || req.messages.length === 0) return "messages: Field required";
  let prevToolIds = new Set(), usesTools = false;
  for (let i = 0; i < req.messages.length; i++) {
    const m = req.messages[i];
    if (m.role !== "user" && m.role !== "assistant")
      return `messages.${i}.role: Input should be 'user' or 'assistant'`;
    if (i > 0 && req.messages[i - 1].role === m.role)
      return "messages: roles must alternate between \"user\" and \"assistant\", but found multiple \"" + m.role + "\" roles in a row";
    const blocks = typeof m.content === "string" ? [{ type: "text", text: m.content }] : m.content;
    if (!Array.isArray(blocks) || blocks.length === 0) return `messages.${i}: all messages must have non-empty content`;
    const toolIds = new Set();
    for (const [j, b] of blocks.entries()) {
      const at = `messages.${i}.content.${j}`;
      if (b.type === "text") { if (typeof b.text !== "string" || !b.text) return `${at}: text content blocks must be non-empty`; }
      else if (b.type === "image" && m.role === "user") {
        const s = b.source || {};
        if (!(s.type === "base64" && s.media_type && s.data) && !(s.type === "url" && /^https:/.test(s.url)))
          return `${at}.source: invalid image source`;
      } else if (b.type === "tool_use" && m.role === "assistant") {
        if (!b.id || !b.name || !b.input || typeof b.input !== "object" || Array.isArray(b.input))
          return `${at}: tool_use needs id, name and an object input`;
        toolIds.add(b.id);
        usesTools = true;
      } else if (b.type === "tool_result" && m.role === "user") {
        if (!prevToolIds.has(b.tool_use_id))
          return `${at}: unexpected \`tool_use_id\` found in \`tool_result\` blocks: ${b.tool_use_id}. Each \`tool_result\` block must have a corresponding \`tool_use\` block in the previous message.`;
      } else return `${at}.type: unexpected block type '${b.type}' in a ${m.role} message`;
    }
    prevToolIds = toolIds;
  }
  if (usesTools && !(Array.isArray(req.tools) && req.tools.length))
    return "Requests which include `tool_use` or `tool_result` blocks must define tools.";
  if (req.tools !== undefined) {
    if (!Array.isArray(req.tools)) return "tools: Input should be a valid list";
    for (const [i, t] of req.tools.entries())
      if (!t.name || !t.input_schema || t.input_schema.type !== "object")
        return `tools.${i}: name and an input_schema of type object are required`;
  }
  if (req.tool_choice !== undefined && !["auto", "any", "tool", "none"].includes(req.tool_choice.type))
    return "tool_choice.type: Input should be 'auto', 'any', 'tool' or 'none'";
  return null;
}

function servedModel(m) {
  return /-\d{8}$/.test(m) ? m : m + "-20250929";
}

// What the model "generates", and what it bills.
function plan(req, bodyLen) {
  const u = {
    input_tokens: Math.max(1, Math.floor(bodyLen / 4)),
    cache_creation_input_tokens: req.system ? 2 : 0,
    cache_read_input_tokens: req.system ? 8 : 0,
  };
  if (Array.isArray(req.tools) && req.tools.length > 0 && req.tool_choice?.type !== "none") {
    const name = req.tool_choice?.type === "tool" ? req.tool_choice.name : req.tools[0].name;
    return { tool: { id: rid("toolu_"), name, input: { city: "Paris" } }, parts: ["{\"city\": ", "\"Paris\"}"],
      stop: "tool_use", output: 12, usage: u };
  }
  let parts = ["Hello", " from anthropic", "!"], stop = "end_turn", output = 5;
  if (req.max_tokens < 5) { parts = ["Hello"]; stop = "max_tokens"; output = req.max_tokens; }
  return { parts, stop, output, usage: u };
}

function prompt(u) {
  return u.input_tokens + u.cache_creation_input_tokens + u.cache_read_input_tokens;
}

function reply(req, p, ctx, nousage) {
  const content = p.tool
    ? [{ type: "tool_use", id: p.tool.id, name: p.tool.name, input: p.tool.input }]
    : [{ type: "text", text: p.parts.join("") }];
  const msg = { id: rid("msg_"), type: "message", role: "assistant", model: servedModel(req.model),
    content, stop_reason: p.stop, stop_sequence: null };
  if (!nousage) {
    msg.usage = { ...p.usage, output_tokens: p.output, service_tier: "standard" };
    ctx.count(prompt(p.usage), p.output);
  }
  ctx.json(200, msg, { "request-id": rid("req_") });
}

function sse(res, event, data) {
  res.write(`event: ${event}\ndata: ${JSON.stringify({ type: event, ...data })}\n\n`);
}

const pause = () => new Promise((r) => setTimeout(r, 5));

async function stream(req, p, res, ctx, mode) {
  res.writeHead(200, { "content-type": "text/event-stream; charset=utf-8",
    "cache-control": "no-cache", "request-id": rid("req_") });
  const message = { id: rid("msg_"), type: "message", role: "assistant", content: [],
    model: servedModel(req.model), stop_reason: null, stop_sequence: null };
  if (mode !== "nousage") message.usage = { ...p.usage, output_tokens: 1, service_tier: "standard" };
  sse(res, "message_start", { message });
  const block = p.tool ? { type: "tool_use", id: p.tool.id, name: p.tool.name, input: {} }
    : { type: "text", text: "" };
  sse(res, "content_block_start", { index: 0, content_block: block });
  sse(res, "ping", {});
  if (p.tool) sse(res, "content_block_delta", { index: 0, delta: { type: "input_json_delta", partial_json: "" } });
  for (const part of p.parts) {
    await pause();
    sse(res, "content_block_delta", { index: 0, delta: p.tool
      ? { type: "input_json_delta", partial_json: part } : { type: "text_delta", text: part } });
    if (mode === "truncate" || mode === "event") {
      if (mode === "event")
        sse(res, "error", { error: { type: "overloaded_error", message: "Overloaded" } });
      if (mode !== "nousage") ctx.count(prompt(p.usage), 1);
      return res.end();
    }
  }
  sse(res, "content_block_stop", { index: 0 });
  const md = { delta: { stop_reason: p.stop, stop_sequence: null } };
  if (mode !== "nousage") md.usage = { output_tokens: p.output };
  sse(res, "message_delta", md);
  sse(res, "message_stop", {});
  if (mode !== "nousage") ctx.count(prompt(p.usage), p.output);
  res.end();
}

export async function handle(req, res, body, ctx) {
  const path = req.url.split("?")[0];
  if (req.method !== "POST" || path !== "/anthropic/v1/messages")
    return error(ctx, 404, "not_found_error", "Not Found");
  if (req.headers["x-api-key"] !== KEY)
    return error(ctx, 401, "authentication_error", "invalid x-api-key");
  if (!req.headers["anthropic-version"])
    return error(ctx, 400, "invalid_request_error", "anthropic-version: header is required");
  let r;
  try { r = JSON.parse(body.toString("utf8")); }
  catch { return error(ctx, 400, "invalid_request_error", "There was an error parsing the body of your request"); }
  return serveMessages(r, body.length, res, ctx);
}

// A parsed Messages request (also used by vertex.mjs for Claude on Vertex
// AI, after it checked the Vertex-specific parts).
export async function serveMessages(r, bodyLen, res, ctx) {
  const why = invalid(r);
  if (why) return error(ctx, 400, "invalid_request_error", why);
  const m = r.model;
  if (m.includes("error-429"))
    return error(ctx, 429, "rate_limit_error", "This request would exceed the rate limit for your organization " +
      "of 50 requests per minute. For details, refer to: https://docs.claude.com/en/api/rate-limits.",
      { "retry-after": "7" });
  if (m.includes("error-529")) return error(ctx, 529, "overloaded_error", "Overloaded");
  if (m.includes("error-500")) {
    const b = "<html>\r\n<head><title>500 Internal Server Error</title></head>\r\n<body>\r\n" +
      "<center><h1>500 Internal Server Error</h1></center>\r\n<hr><center>cloudflare</center>\r\n</body>\r\n</html>\r\n";
    res.writeHead(500, { "content-type": "text/html", "content-length": Buffer.byteLength(b) });
    return res.end(b);
  }
  const p = plan(r, bodyLen);
  const mode = m.includes("truncate") ? "truncate" : m.includes("error-event") ? "event"
    : m.includes("nousage") ? "nousage" : "";
  if (r.stream === true) return stream(r, p, res, ctx, mode);
  return reply(r, p, ctx, mode === "nousage");
}
