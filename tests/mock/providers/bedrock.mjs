// AWS Bedrock Runtime mock: Converse, ConverseStream (binary
// application/vnd.amazon.eventstream frames with real CRC32s) and
// InvokeModel embeddings (Titan, Cohere). Authentication as AWS does it:
// SigV4 verified from scratch (canonical request with the path URI-encoded
// once more, string to sign, HMAC-SHA256 key chain), or a Bedrock API key
// as a bearer token. Errors use Bedrock's shape: {"message": ...} with an
// x-amzn-ErrorType header.
import crypto from "node:crypto";

export const prefix = "/bedrock";

const SECRETS = { AKIACANARYBEDROCK01: "bedrock-secret-CANARY-0001" };
const API_KEYS = new Set(["bedrock-api-key-CANARY-0001"]);
const SIG_MISMATCH = "The request signature we calculated does not match the " +
  "signature you provided. Check your AWS Secret Access Key and signing " +
  "method. Consult the service documentation for details.";

// --- CRC32 and event-stream frames ------------------------------------

const CRC_TABLE = new Uint32Array(256);
for (let i = 0; i < 256; i++) {
  let c = i;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  CRC_TABLE[i] = c >>> 0;
}
export function crc32(buf) {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

// One message: string headers (type 7), payload bytes.
export function frame(headers, payload) {
  const parts = [];
  for (const [k, v] of Object.entries(headers)) {
    const kb = Buffer.from(k), vb = Buffer.from(v);
    const h = Buffer.alloc(4 + kb.length + vb.length);
    h[0] = kb.length;
    kb.copy(h, 1);
    h[1 + kb.length] = 7;
    h.writeUInt16BE(vb.length, 2 + kb.length);
    vb.copy(h, 4 + kb.length);
    parts.push(h);
  }
  const hb = Buffer.concat(parts);
  const total = 12 + hb.length + payload.length + 4;
  const m = Buffer.alloc(total);
  m.writeUInt32BE(total, 0);
  m.writeUInt32BE(hb.length, 4);
  m.writeUInt32BE(crc32(m.subarray(0, 8)), 8);
  hb.copy(m, 12);
  payload.copy(m, 12 + hb.length);
  m.writeUInt32BE(crc32(m.subarray(0, total - 4)), total - 4);
  return m;
}

// Real events carry a "p" padding member of varying length.
const PAD = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
let padN = 0;
function event(type, obj) {
  const p = PAD.slice(0, 1 + (padN++ * 7) % PAD.length);
  return frame({ ":event-type": type, ":content-type": "application/json",
                 ":message-type": "event" },
               Buffer.from(JSON.stringify({ ...obj, p })));
}
function exception(type, message) {
  return frame({ ":exception-type": type, ":content-type": "application/json",
                 ":message-type": "exception" },
               Buffer.from(JSON.stringify({ message })));
}

// --- SigV4 -------------------------------------------------------------

const sha256 = (d) => crypto.createHash("sha256").update(d).digest("hex");
const hmac = (k, d) => crypto.createHmac("sha256", k).update(d).digest();

// AWS (all services but S3) URI-encodes the path as received once more.
export function canonicalUri(rawPath) {
  let out = "";
  for (const b of Buffer.from(rawPath || "/", "latin1")) {
    const c = String.fromCharCode(b);
    out += /[A-Za-z0-9\-_.~\/]/.test(c) ? c
      : "%" + b.toString(16).toUpperCase().padStart(2, "0");
  }
  return out;
}

function canonicalQuery(q) {
  if (!q) return "";
  return q.split("&").filter(Boolean).map((kv) => {
    const i = kv.indexOf("=");
    const k = i < 0 ? kv : kv.slice(0, i), v = i < 0 ? "" : kv.slice(i + 1);
    const enc = (s) => encodeURIComponent(decodeURIComponent(s))
      .replace(/[!'()*]/g, (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase());
    return [enc(k), enc(v)];
  }).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : 1))
    .map(([k, v]) => k + "=" + v).join("&");
}

const trimValue = (v) => String(v).trim().replace(/\s+/g, " ");

function signature(secret, date, region, service, stringToSign) {
  let k = hmac("AWS4" + secret, date);
  k = hmac(k, region);
  k = hmac(k, service);
  k = hmac(k, "aws4_request");
  return hmac(k, stringToSign).toString("hex");
}

// Signs a request (for tests): returns the headers to add.
export function signV4({ method = "POST", path, host, body = "", region,
                         service = "bedrock", akid, secret, headers = {},
                         now = new Date() }) {
  const amzDate = now.toISOString().replace(/[-:]/g, "").replace(/\.\d+/, "");
  const h = { ...headers, host, "x-amz-date": amzDate };
  const names = Object.keys(h).map((n) => n.toLowerCase()).sort();
  const lower = Object.fromEntries(Object.entries(h).map(([k, v]) => [k.toLowerCase(), v]));
  const creq = [method, canonicalUri(path), "",
    names.map((n) => n + ":" + trimValue(lower[n])).join("\n") + "\n",
    names.join(";"), sha256(body)].join("\n");
  const scope = `${amzDate.slice(0, 8)}/${region}/${service}/aws4_request`;
  const sts = ["AWS4-HMAC-SHA256", amzDate, scope, sha256(creq)].join("\n");
  const sig = signature(secret, amzDate.slice(0, 8), region, service, sts);
  return { ...h, authorization: `AWS4-HMAC-SHA256 Credential=${akid}/${scope}, ` +
    `SignedHeaders=${names.join(";")}, Signature=${sig}` };
}

// Verifies a request as AWS would. req: {method, url (raw), headers
// (lowercase, as node gives them), body (Buffer)}. Returns null when
// valid, else [status, errorType, message].
export function verifySigV4(req, body, secrets = SECRETS, now = Date.now()) {
  const auth = req.headers.authorization || "";
  const m = /^AWS4-HMAC-SHA256 Credential=([^/,\s]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request,\s*SignedHeaders=([a-z0-9\-;]+),\s*Signature=([0-9a-f]{64})$/.exec(auth);
  if (!m)
    return [400, "IncompleteSignatureException",
      "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' parameters."];
  const [, akid, date, region, service, signedHeaders, sig] = m;
  const secret = secrets[akid];
  if (secret === undefined)
    return [403, "UnrecognizedClientException", "The security token included in the request is invalid."];
  if (service !== "bedrock")
    return [403, "InvalidSignatureException", "Credential should be scoped to correct service: 'bedrock'."];
  const amzDate = req.headers["x-amz-date"] || "";
  const t = /^(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)Z$/.exec(amzDate);
  if (!t)
    return [400, "IncompleteSignatureException", "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."];
  const when = Date.UTC(+t[1], +t[2] - 1, +t[3], +t[4], +t[5], +t[6]);
  if (Math.abs(now - when) > 5 * 60 * 1000)
    return [403, "InvalidSignatureException", `Signature expired: ${amzDate} is now earlier or later than 5 minutes from now.`];
  if (date !== amzDate.slice(0, 8))
    return [403, "InvalidSignatureException", "Credential should be scoped to a valid date."];
  const names = signedHeaders.split(";");
  if (!names.includes("host") || !names.includes("x-amz-date") ||
      names.join(";") !== [...names].sort().join(";"))
    return [403, "InvalidSignatureException", SIG_MISMATCH];
  if (req.headers["x-amz-security-token"] !== undefined && !names.includes("x-amz-security-token"))
    return [403, "InvalidSignatureException", SIG_MISMATCH];
  for (const n of names)
    if (req.headers[n] === undefined)
      return [403, "InvalidSignatureException", SIG_MISMATCH];
  const [path, query = ""] = req.url.split("?");
  const creq = [req.method, canonicalUri(path), canonicalQuery(query),
    names.map((n) => n + ":" + trimValue(req.headers[n])).join("\n") + "\n",
    signedHeaders, sha256(body)].join("\n");
  const sts = ["AWS4-HMAC-SHA256", amzDate, `${date}/${region}/${service}/aws4_request`,
    sha256(creq)].join("\n");
  const want = Buffer.from(signature(secret, date, region, service, sts));
  if (!crypto.timingSafeEqual(want, Buffer.from(sig)))
    return [403, "InvalidSignatureException", SIG_MISMATCH];
  return null;
}

function authenticate(req, body) {
  const auth = req.headers.authorization;
  if (!auth)
    return [403, "MissingAuthenticationTokenException", "Missing Authentication Token"];
  if (auth.startsWith("Bearer "))
    return API_KEYS.has(auth.slice(7)) ? null
      : [403, "UnrecognizedClientException", "The security token included in the request is invalid."];
  return verifySigV4(req, body);
}

// --- request validation (Bedrock's ValidationException) ----------------

const CONVERSE_KEYS = new Set(["messages", "system", "inferenceConfig", "toolConfig",
  "guardrailConfig", "additionalModelRequestFields", "promptVariables",
  "additionalModelResponseFieldPaths", "requestMetadata", "performanceConfig"]);
const BLOCK_KEYS = new Set(["text", "image", "document", "video", "toolUse",
  "toolResult", "guardContent", "cachePoint", "reasoningContent"]);

function validateBlock(b, role, prevToolIds) {
  if (typeof b !== "object" || b === null) return "content blocks must be objects";
  const keys = Object.keys(b);
  if (keys.length !== 1 || !BLOCK_KEYS.has(keys[0]))
    return `ContentBlock must have exactly one member, got: ${keys.join(",")}`;
  if ("text" in b && (typeof b.text !== "string" || b.text.trim() === ""))
    return "The text field in the ContentBlock object is blank. Add text to the text field, and try again.";
  if ("image" in b) {
    const im = b.image;
    if (!["png", "jpeg", "gif", "webp"].includes(im.format)) return "image.format is invalid";
    if (!im.source || (typeof im.source.bytes !== "string" && !im.source.s3Location))
      return "image.source needs bytes or s3Location";
    if (typeof im.source.bytes === "string" && !/^[A-Za-z0-9+/]+=*$/.test(im.source.bytes))
      return "image.source.bytes is not base64";
  }
  if ("toolUse" in b) {
    const tu = b.toolUse;
    if (role !== "assistant") return "toolUse blocks belong to assistant messages";
    if (typeof tu.toolUseId !== "string" || typeof tu.name !== "string" ||
        typeof tu.input !== "object" || tu.input === null || Array.isArray(tu.input))
      return "toolUse needs toolUseId, name and an object input";
  }
  if ("toolResult" in b) {
    const tr = b.toolResult;
    if (role !== "user") return "toolResult blocks belong to user messages";
    if (!prevToolIds.has(tr.toolUseId))
      return "The toolResult blocks at messages.N.content contain a toolUseId not present in the previous turn's toolUse blocks.";
    if (!Array.isArray(tr.content)) return "toolResult.content must be an array";
    for (const c of tr.content)
      if (typeof c.text !== "string" && typeof c.json !== "object")
        return "toolResult content blocks need text or json";
  }
  return null;
}

function validateConverse(r) {
  for (const k of Object.keys(r))
    if (!CONVERSE_KEYS.has(k)) return `Unknown parameter in input: "${k}"`;
  if (!Array.isArray(r.messages) || r.messages.length === 0)
    return "A conversation must start with a user message.";
  let prev = null, toolIds = new Set(), usesTools = false;
  for (const m of r.messages) {
    if (!["user", "assistant"].includes(m.role)) return `Invalid role: ${m.role}`;
    if (prev === null && m.role !== "user") return "A conversation must start with a user message. Try again with a conversation that starts with a user message.";
    if (prev === m.role) return "A conversation must alternate between user and assistant roles. Make sure the conversation alternates between user and assistant roles and try again.";
    if (!Array.isArray(m.content) || m.content.length === 0) return "messages content must be a non-empty array";
    const ids = new Set();
    for (const b of m.content) {
      const e = validateBlock(b, m.role, toolIds);
      if (e) return e;
      if (b.toolUse) ids.add(b.toolUse.toolUseId);
      if (b.toolUse || b.toolResult) usesTools = true;
    }
    toolIds = ids;
    prev = m.role;
  }
  if (r.system !== undefined &&
      (!Array.isArray(r.system) || r.system.some((s) => typeof s.text !== "string" || !s.text)))
    return "system must be an array of text blocks";
  const ic = r.inferenceConfig;
  if (ic !== undefined) {
    for (const k of Object.keys(ic))
      if (!["maxTokens", "temperature", "topP", "stopSequences"].includes(k))
        return `Unknown parameter in inferenceConfig: "${k}"`;
    if (ic.maxTokens !== undefined && !(Number.isInteger(ic.maxTokens) && ic.maxTokens >= 1))
      return "inferenceConfig.maxTokens must be a positive integer";
    if (ic.temperature !== undefined && !(ic.temperature >= 0 && ic.temperature <= 1))
      return "inferenceConfig.temperature must be between 0 and 1";
    if (ic.topP !== undefined && !(ic.topP >= 0 && ic.topP <= 1))
      return "inferenceConfig.topP must be between 0 and 1";
    if (ic.stopSequences !== undefined &&
        (!Array.isArray(ic.stopSequences) || ic.stopSequences.some((s) => typeof s !== "string")))
      return "inferenceConfig.stopSequences must be an array of strings";
  }
  const tc = r.toolConfig;
  if (tc !== undefined) {
    if (!Array.isArray(tc.tools) || tc.tools.length === 0) return "toolConfig.tools must be a non-empty array";
    for (const t of tc.tools) {
      const s = t.toolSpec;
      if (!s || typeof s.name !== "string" || !s.inputSchema ||
          typeof s.inputSchema.json !== "object" || Object.keys(t).length !== 1)
        return "toolConfig.tools entries need toolSpec {name, inputSchema: {json}}";
    }
    if (tc.toolChoice !== undefined) {
      const k = Object.keys(tc.toolChoice);
      if (k.length !== 1 || !["auto", "any", "tool"].includes(k[0]) ||
          (k[0] === "tool" && typeof tc.toolChoice.tool.name !== "string"))
        return "toolConfig.toolChoice must be one of auto, any, tool";
    }
  } else if (usesTools) {
    return "The toolConfig field must be defined when using toolUse and toolResult content blocks.";
  }
  return null;
}

// --- replies -------------------------------------------------------------

const DELTAS = ["Hello", " from bedrock", "!"];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function usageFor(model, body, completion) {
  const input = Math.floor(body.length / 4) + 1;
  const u = { inputTokens: input, outputTokens: completion };
  let billed = input;
  if (model.includes("sonnet")) {
    u.cacheReadInputTokens = 4;
    u.cacheWriteInputTokens = 2;
    billed += 6;
  }
  u.totalTokens = billed + completion;
  return [u, billed];
}

function errorReply(ctx, res, status, type, message) {
  ctx.json(status, { message }, {
    "x-amzn-ErrorType": `${type}:http://internal.amazon.com/coral/com.amazon.bedrock/`,
    "x-amzn-RequestId": crypto.randomUUID() });
}

function planFor(model, r) {
  const tool = r.toolConfig && r.toolConfig.tools[0].toolSpec.name;
  const max = r.inferenceConfig && r.inferenceConfig.maxTokens;
  if (tool) return { tool, stop: "tool_use", completion: 9 };
  if (max === 1) return { text: ["Hello"], stop: "max_tokens", completion: 1 };
  return { text: DELTAS, stop: "end_turn", completion: 5 };
}

function converse(ctx, model, r, body) {
  const plan = planFor(model, r);
  const content = plan.tool
    ? [{ toolUse: { toolUseId: "tooluse_mock0001", name: plan.tool, input: { city: "Paris" } } }]
    : [{ text: plan.text.join("") }];
  const out = { output: { message: { role: "assistant", content } },
                stopReason: plan.stop, metrics: { latencyMs: 42 } };
  if (!model.includes("nousage")) {
    const [u, billed] = usageFor(model, body, plan.completion);
    out.usage = u;
    ctx.count(billed, plan.completion);
  }
  ctx.json(200, out, { "x-amzn-RequestId": crypto.randomUUID() });
}

// Writes a frame in two pieces split at an odd offset, so the gateway's
// decoder sees messages cut at arbitrary bytes.
async function send(res, f) {
  const cut = 1 + (f.length * 7) % (f.length - 1);
  res.write(f.subarray(0, cut));
  await sleep(3);
  res.write(f.subarray(cut));
  await sleep(3);
}

async function converseStream(ctx, res, model, r, body) {
  const plan = planFor(model, r);
  res.writeHead(200, { "content-type": "application/vnd.amazon.eventstream",
                       "x-amzn-RequestId": crypto.randomUUID() });
  await send(res, event("messageStart", { role: "assistant" }));
  if (plan.tool) {
    await send(res, event("contentBlockStart", { contentBlockIndex: 0,
      start: { toolUse: { toolUseId: "tooluse_mock0001", name: plan.tool } } }));
    for (const piece of ['{"city":', '"Paris"}'])
      await send(res, event("contentBlockDelta", { contentBlockIndex: 0,
        delta: { toolUse: { input: piece } } }));
  } else {
    for (const [i, t] of plan.text.entries()) {
      await send(res, event("contentBlockDelta", { contentBlockIndex: 0, delta: { text: t } }));
      if (i === 0 && model.includes("truncate")) return res.destroy();
      if (i === 0 && model.includes("exception")) {
        await send(res, exception("throttlingException",
          "Too many tokens, please wait before trying again."));
        return res.end();
      }
    }
  }
  await send(res, event("contentBlockStop", { contentBlockIndex: 0 }));
  await send(res, event("messageStop", { stopReason: plan.stop }));
  const meta = { metrics: { latencyMs: 42 } };
  if (!model.includes("nousage")) {
    const [u, billed] = usageFor(model, body, plan.completion);
    meta.usage = u;
    ctx.count(billed, plan.completion);
  }
  await send(res, event("metadata", meta));
  res.end();
}

function invoke(ctx, model, r) {
  const vec = (seed, n) => Array.from({ length: n }, (_, i) =>
    Math.round(Math.sin(seed + i) * 1e6) / 1e6);
  if (model.includes("cohere.embed")) {
    if (!Array.isArray(r.texts) || r.texts.some((t) => typeof t !== "string") ||
        !["search_document", "search_query", "classification", "clustering"].includes(r.input_type))
      return "texts (strings) and input_type are required";
    ctx.json(200, { embeddings: r.texts.map((t, i) => vec(i, 8)), id: crypto.randomUUID(),
                    response_type: "embeddings_floats", texts: r.texts },
             { "X-Amzn-Bedrock-Input-Token-Count": String(r.texts.join("").length) });
    return null;
  }
  for (const k of Object.keys(r))
    if (!["inputText", "dimensions", "normalize", "embeddingTypes"].includes(k))
      return `extraneous key [${k}] is not permitted`;
  if (typeof r.inputText !== "string" || r.inputText === "") return "inputText is required";
  const tokens = Math.floor(r.inputText.length / 4) + 1;
  const v = vec(1, r.dimensions || 8);
  ctx.count(tokens, 0);
  ctx.json(200, { embedding: v, embeddingsByType: { float: v }, inputTextTokenCount: tokens });
  return null;
}

export async function handle(req, res, body, ctx) {
  const path = req.url.split("?")[0];
  const m = /^\/bedrock\/model\/([^/]+)\/(converse|converse-stream|invoke)$/.exec(path);
  if (req.method !== "POST" || !m)
    return errorReply(ctx, res, 404, "UnknownOperationException", "Unknown operation");
  const authErr = authenticate(req, body);
  if (authErr) return errorReply(ctx, res, ...authErr);
  const model = decodeURIComponent(m[1]), action = m[2];
  if (model.includes("error-429")) {
    return ctx.json(429, { message: "Too many requests, please wait before trying again." }, {
      "x-amzn-ErrorType": "ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/",
      "Retry-After": "7" });
  }
  if (model.includes("error-500")) {
    res.writeHead(500, { "content-type": "text/html" });
    return res.end("<html><body><h1>500 Internal Server Error</h1></body></html>");
  }
  let r;
  try { r = JSON.parse(body.toString("utf8")); } catch {
    return errorReply(ctx, res, 400, "ValidationException", "Malformed input request, please reformat your input and try again.");
  }
  if (action === "invoke") {
    const e = invoke(ctx, model, r);
    return e && errorReply(ctx, res, 400, "ValidationException", "Malformed input request: " + e);
  }
  const e = validateConverse(r);
  if (e) return errorReply(ctx, res, 400, "ValidationException", e);
  if (action === "converse") return converse(ctx, model, r, body);
  return converseStream(ctx, res, model, r, body);
}
