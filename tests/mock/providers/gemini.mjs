// Google Gemini API (AI Studio) mock, in its wire format:
//   POST /gemini/v1beta/models/{model}:generateContent
//   POST /gemini/v1beta/models/{model}:streamGenerateContent?alt=sse
//        (without alt=sse: one JSON array of the same chunks)
//   POST /gemini/v1beta/models/{model}:batchEmbedContents
// Auth: x-goog-api-key (or ?key=). Requests are checked as strictly as
// Google does (unknown fields are rejected), so the gateway's translation
// is tested, not just relayed. Also exports the generateContent helpers
// that vertex.mjs shares.
import crypto from "node:crypto";

export const prefix = "/gemini";
const API_KEY = "gemini-CANARY-key-0001";

// Google's error body: {"error":{"code","message","status"}}.
export function googleError(res, code, status, message, headers = {}) {
  const b = JSON.stringify({ error: { code, message, status } });
  res.writeHead(code, { "content-type": "application/json; charset=UTF-8",
                        "content-length": Buffer.byteLength(b), ...headers });
  res.end(b);
}

function htmlError(res) {
  const b = "<!DOCTYPE html>\n<html lang=en>\n  <meta charset=utf-8>\n" +
    "  <title>Error 500 (Internal Server Error)!!1</title>\n" +
    "  <p><b>500.</b> <ins>That\u2019s an error.</ins>\n" +
    "  <p>There was an error. Please try again later. " +
    "<ins>That\u2019s all we know.</ins>\n";
  res.writeHead(500, { "content-type": "text/html; charset=UTF-8",
                       "content-length": Buffer.byteLength(b) });
  res.end(b);
}

const TOP_KEYS = ["contents", "systemInstruction", "generationConfig",
  "tools", "toolConfig", "safetySettings", "cachedContent", "labels"];
const GEN_KEYS = ["stopSequences", "responseMimeType", "responseSchema",
  "responseJsonSchema", "candidateCount", "maxOutputTokens", "temperature",
  "topP", "topK", "seed", "presencePenalty", "frequencyPenalty",
  "responseLogprobs", "logprobs", "thinkingConfig", "responseModalities",
  "mediaResolution"];
const PART_KEYS = ["text", "inlineData", "fileData", "functionCall",
  "functionResponse", "thought", "thoughtSignature", "executableCode",
  "codeExecutionResult", "videoMetadata"];
const SCHEMA_KEYS = ["type", "format", "title", "description", "nullable",
  "enum", "maxItems", "minItems", "properties", "required", "minProperties",
  "maxProperties", "minLength", "maxLength", "pattern", "example", "anyOf",
  "propertyOrdering", "default", "items", "minimum", "maximum"];
const STRING_FORMATS = ["enum", "date-time"];

class Invalid extends Error {}
const unknown = (k, at) => new Invalid(
  `Invalid JSON payload received. Unknown name "${k}"${at ? ` at '${at}'` : ""}: Cannot find field.`);

function checkKeys(o, allowed, at) {
  for (const k of Object.keys(o)) if (!allowed.includes(k)) throw unknown(k, at);
}

function checkSchema(s, at) {
  if (typeof s !== "object" || s === null || Array.isArray(s))
    throw new Invalid(`${at}: must be an object`);
  checkKeys(s, SCHEMA_KEYS, at);
  const type = String(s.type || "").toUpperCase();
  if (s.format !== undefined && type === "STRING" && !STRING_FORMATS.includes(s.format))
    throw new Invalid(`* GenerateContentRequest.${at}.format: only 'enum' and 'date-time' are supported for STRING type`);
  if (type === "OBJECT" && s.properties !== undefined && Object.keys(s.properties).length === 0)
    throw new Invalid(`* GenerateContentRequest.${at}.properties: should be non-empty for OBJECT type`);
  for (const [k, v] of Object.entries(s.properties || {})) checkSchema(v, `${at}.properties[${k}]`);
  if (s.items !== undefined) checkSchema(s.items, `${at}.items`);
  (s.anyOf || []).forEach((v, i) => checkSchema(v, `${at}.anyOf[${i}]`));
}

function checkParts(parts, at) {
  if (!Array.isArray(parts) || parts.length === 0)
    throw new Invalid(`* GenerateContentRequest.${at}.parts: contents.parts must not be empty.`);
  parts.forEach((p, i) => {
    checkKeys(p, PART_KEYS, `${at}.parts[${i}]`);
    const data = ["text", "inlineData", "fileData", "functionCall", "functionResponse"]
      .filter((k) => p[k] !== undefined);
    if (data.length !== 1)
      throw new Invalid(`* GenerateContentRequest.${at}.parts[${i}].data: required oneof field 'data' must have one initialized field`);
    if (p.text !== undefined && typeof p.text !== "string")
      throw new Invalid(`${at}.parts[${i}].text: must be a string`);
    if (p.inlineData && (!p.inlineData.mimeType || typeof p.inlineData.data !== "string"))
      throw new Invalid(`${at}.parts[${i}].inline_data: mimeType and data are required`);
    if (p.fileData && (!p.fileData.fileUri))
      throw new Invalid(`${at}.parts[${i}].file_data: fileUri is required`);
    if (p.functionCall && (typeof p.functionCall.name !== "string" ||
        (p.functionCall.args !== undefined && (typeof p.functionCall.args !== "object" || Array.isArray(p.functionCall.args)))))
      throw new Invalid(`${at}.parts[${i}].function_call: name and an args object are required`);
    if (p.functionResponse && (typeof p.functionResponse.name !== "string" ||
        typeof p.functionResponse.response !== "object" || Array.isArray(p.functionResponse.response)))
      throw new Invalid(`${at}.parts[${i}].function_response: name and a response object are required`);
  });
}

// Throws Invalid with Google's message for what Google rejects.
export function validate(req, { vertex = false } = {}) {
  if (typeof req !== "object" || req === null || Array.isArray(req))
    throw new Invalid("Invalid JSON payload received. Expected an object.");
  checkKeys(req, TOP_KEYS, "");
  if (!Array.isArray(req.contents) || req.contents.length === 0)
    throw new Invalid("* GenerateContentRequest.contents: contents is not specified");
  req.contents.forEach((c, i) => {
    checkKeys(c, ["role", "parts"], `contents[${i}]`);
    if (c.role === undefined && vertex)
      throw new Invalid("Please use a valid role: user, model.");
    if (c.role !== undefined && c.role !== "user" && c.role !== "model")
      throw new Invalid(`Please use a valid role: user, model.`);
    checkParts(c.parts, `contents[${i}]`);
  });
  if (req.systemInstruction !== undefined) {
    checkKeys(req.systemInstruction, ["role", "parts"], "system_instruction");
    checkParts(req.systemInstruction.parts, "system_instruction");
  }
  if (req.generationConfig !== undefined) {
    checkKeys(req.generationConfig, GEN_KEYS, "generation_config");
    const st = req.generationConfig.stopSequences;
    if (st !== undefined && (!Array.isArray(st) || st.some((s) => typeof s !== "string")))
      throw new Invalid("generation_config.stop_sequences: must be a list of strings");
  }
  (req.tools || []).forEach((t, i) => {
    checkKeys(t, ["functionDeclarations", "googleSearch", "codeExecution", "urlContext"], `tools[${i}]`);
    (t.functionDeclarations || []).forEach((d, k) => {
      const at = `tools[${i}].function_declarations[${k}]`;
      checkKeys(d, ["name", "description", "parameters", "parametersJsonSchema", "response", "behavior"], at);
      if (typeof d.name !== "string" || !/^[A-Za-z_][A-Za-z0-9_.:-]{0,63}$/.test(d.name))
        throw new Invalid(`* GenerateContentRequest.${at}.name: Invalid function name.`);
      if (d.parameters !== undefined) checkSchema(d.parameters, `${at}.parameters`);
    });
  });
  if (req.toolConfig !== undefined) {
    checkKeys(req.toolConfig, ["functionCallingConfig", "retrievalConfig"], "tool_config");
    const m = req.toolConfig.functionCallingConfig?.mode;
    if (m !== undefined && !["AUTO", "ANY", "NONE", "VALIDATED"].includes(m))
      throw new Invalid(`Invalid value at 'tool_config.function_calling_config.mode' (type.googleapis.com/google.ai.generativelanguage.v1beta.FunctionCallingConfig.Mode), "${m}"`);
  }
}

// Deterministic prompt tokens: characters of everything sent / 4.
function promptTokens(req) {
  let chars = 0;
  const add = (parts) => {
    for (const p of parts || []) {
      if (typeof p.text === "string") chars += p.text.length;
      if (p.functionCall) chars += JSON.stringify(p.functionCall).length;
      if (p.functionResponse) chars += JSON.stringify(p.functionResponse).length;
      if (p.inlineData || p.fileData) chars += 1032; // 258 tokens per image
    }
  };
  add(req.systemInstruction?.parts);
  for (const c of req.contents) add(c.parts);
  for (const t of req.tools || []) chars += JSON.stringify(t).length;
  return Math.max(1, Math.ceil(chars / 4));
}

function firstTool(req) {
  if (req.toolConfig?.functionCallingConfig?.mode === "NONE") return null;
  for (const t of req.tools || [])
    for (const d of t.functionDeclarations || []) {
      const allowed = req.toolConfig?.functionCallingConfig?.allowedFunctionNames;
      if (!allowed || allowed.includes(d.name)) return d.name;
    }
  return null;
}

function usage(prompt, out, thoughts, vertex) {
  const u = { promptTokenCount: prompt, candidatesTokenCount: out,
              totalTokenCount: prompt + out + thoughts,
              promptTokensDetails: [{ modality: "TEXT", tokenCount: prompt }] };
  if (thoughts) u.thoughtsTokenCount = thoughts;
  if (vertex) {
    u.trafficType = "ON_DEMAND";
    u.candidatesTokensDetails = [{ modality: "TEXT", tokenCount: out }];
  }
  return u;
}

// The reply, as the list of GenerateContentResponse chunks a stream sends
// (a non-streamed reply is the same content in one response).
function plan(req, { name, model, vertex }) {
  const prompt = promptTokens(req);
  const thoughts = /pro/.test(model) ? 11 : 0;   // a thinking model
  const tool = firstTool(req);
  const max = req.generationConfig?.maxOutputTokens;
  const noUsage = /nousage/.test(model);
  const meta = { modelVersion: model,
                 responseId: crypto.randomBytes(12).toString("base64url") };
  if (vertex) meta.createTime = new Date().toISOString();
  if (tool) {
    const out = 8;
    return { prompt, out: out + thoughts, chunks: [{
      candidates: [{ content: { role: "model", parts: [{ functionCall: { name: tool, args: { city: "Paris" } } }] },
                     finishReason: "STOP", index: 0 }],
      ...(noUsage ? {} : { usageMetadata: usage(prompt, out, thoughts, vertex) }), ...meta }] };
  }
  let deltas = ["Hello", ` from ${name}`, "!"];
  let finish = "STOP";
  if (max !== undefined && max < 5) { deltas = ["Hello"]; finish = "MAX_TOKENS"; }
  const counts = [1, 3, 5];
  const chunks = deltas.map((text, i) => {
    const last = i === deltas.length - 1;
    const out = last && finish === "MAX_TOKENS" ? max : counts[i];
    const c = { candidates: [{ content: { role: "model", parts: [{ text }] }, index: 0 }], ...meta };
    if (last) c.candidates[0].finishReason = finish;
    if (!noUsage)
      c.usageMetadata = last ? usage(prompt, out, thoughts, vertex)
        : { promptTokenCount: prompt, candidatesTokenCount: out, totalTokenCount: prompt + out };
    return c;
  });
  const outAll = (finish === "MAX_TOKENS" ? max : 5) + thoughts;
  return { prompt, out: outAll, chunks };
}

// One response from the chunks: parts concatenated, the last chunk's
// finishReason and usage.
function merge(chunks) {
  const last = chunks[chunks.length - 1];
  const parts = [];
  for (const c of chunks) {
    for (const p of c.candidates[0].content.parts) {
      const prev = parts[parts.length - 1];
      if (p.text !== undefined && prev && prev.text !== undefined) prev.text += p.text;
      else parts.push({ ...p });
    }
  }
  return { ...last, candidates: [{ ...last.candidates[0], content: { role: "model", parts } }] };
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Serves generateContent / streamGenerateContent for the model.
export async function serveGenerate(req, res, body, ctx, opts) {
  const { model, method, alt } = opts;
  let r;
  try {
    r = JSON.parse(body.toString("utf8"));
    validate(r, opts);
  } catch (e) {
    return googleError(res, 400, "INVALID_ARGUMENT",
                       e instanceof Invalid ? e.message : "Invalid JSON payload received. " + e.message);
  }
  if (/error-429/.test(model))
    return googleError(res, 429, "RESOURCE_EXHAUSTED",
                       "Resource has been exhausted (e.g. check quota).", { "retry-after": "7" });
  if (/error-500/.test(model)) return htmlError(res);
  const p = plan(r, opts);
  if (method === "generateContent") {
    if (!/nousage/.test(model)) ctx.count(p.prompt, p.out);
    return ctx.json(200, merge(p.chunks));
  }
  if (method !== "streamGenerateContent")
    return googleError(res, 404, "NOT_FOUND", `Method ${method} not found.`);
  const truncate = /truncate/.test(model);
  if (alt !== "sse") {               // the default: a JSON array
    if (!/nousage/.test(model)) ctx.count(p.prompt, p.out);
    return ctx.json(200, p.chunks);
  }
  res.writeHead(200, { "content-type": "text/event-stream",
                       "cache-control": "no-cache", "x-content-type-options": "nosniff" });
  for (const [i, c] of p.chunks.entries()) {
    res.write("data: " + JSON.stringify(c) + "\r\n\r\n");
    if (truncate) {
      ctx.count(p.prompt, c.usageMetadata ? c.usageMetadata.candidatesTokenCount : 0);
      await sleep(20);
      return res.end();               // cut: no finishReason
    }
    if (i < p.chunks.length - 1) await sleep(20);
  }
  if (!/nousage/.test(model)) ctx.count(p.prompt, p.out);
  res.end();
}

// Deterministic vectors: 8 dimensions from the text.
function vector(text, dims) {
  const v = [];
  for (let i = 0; i < 8; i++) {
    let h = 0;
    for (const ch of text) h = (h * 31 + ch.codePointAt(0) + i) % 1000;
    v.push(Number(((h - 500) / 1000).toFixed(6)));
  }
  return dims ? v.slice(0, dims) : v;
}

function serveEmbed(res, body, ctx, model) {
  let r;
  try { r = JSON.parse(body.toString("utf8")); } catch (e) {
    return googleError(res, 400, "INVALID_ARGUMENT", "Invalid JSON payload received.");
  }
  if (!Array.isArray(r.requests) || r.requests.length === 0)
    return googleError(res, 400, "INVALID_ARGUMENT", "* BatchEmbedContentsRequest.requests: requests is not specified");
  const out = [];
  for (const [i, q] of r.requests.entries()) {
    if (q.model !== `models/${model}`)
      return googleError(res, 400, "INVALID_ARGUMENT",
        `* BatchEmbedContentsRequest.requests[${i}].model: the model must match the batch's model models/${model}`);
    const text = (q.content?.parts || []).map((p) => p.text || "").join("");
    out.push({ values: vector(text, q.outputDimensionality) });
  }
  ctx.json(200, { embeddings: out });   // Gemini bills embeddings without usage
}

export async function handle(req, res, body, ctx) {
  const url = new URL(req.url, "http://mock");
  const key = req.headers["x-goog-api-key"] || url.searchParams.get("key");
  if (!key)
    return googleError(res, 403, "PERMISSION_DENIED",
      "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.");
  if (key !== API_KEY)
    return googleError(res, 400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key.");
  const m = /^\/gemini\/v1beta\/models\/([^/:]+):([A-Za-z]+)$/.exec(url.pathname);
  if (!m || req.method !== "POST")
    return googleError(res, 404, "NOT_FOUND", `The requested URL ${url.pathname} was not found on this server.`);
  const [, model, method] = m;
  if (method === "batchEmbedContents") return serveEmbed(res, body, ctx, model);
  return serveGenerate(req, res, body, ctx,
                       { name: "gemini", model, method, alt: url.searchParams.get("alt") });
}
