// Azure OpenAI in its real wire format: per-deployment URLs
//   POST /openai/deployments/{deployment}/chat/completions?api-version=...
//   POST /openai/deployments/{deployment}/embeddings?api-version=...
// an "api-key" header, OpenAI's bodies plus Azure's content-filter
// annotations (prompt_filter_results, content_filter_results; keys sorted
// as Azure sends them), a stream that opens with a prompt-filter chunk
// without choices, and Azure's error shapes.
export const prefix = "/azure";

const KEY = "azure-CANARY-key-0001";
const VERSIONS = new Set(["2024-10-21", "2024-06-01", "2025-01-01-preview"]);
// deployment -> served model; the fault deployments are named like the
// models the gateway's config leaves unmapped
const CHAT = { "gpt4o-prod": "gpt-4o-2024-08-06" };
const EMBED = { "embed-small": "text-embedding-3-small" };
const FAULTS = /^azure-(error-429|error-500|truncate|nousage|content-filter)$/;

const SAFE = { filtered: false, severity: "safe" };
const FILTER = { hate: SAFE, self_harm: SAFE, sexual: SAFE, violence: SAFE };
const PROMPT_FILTER = [{ prompt_index: 0, content_filter_results: { ...FILTER, jailbreak: { filtered: false, detected: false } } }];

let seq = 0;

function err(ctx, status, code, message, extra = {}, headers = {}) {
  ctx.json(status, { error: { code, message, ...extra } }, headers);
}

function usageOf(prompt, completion) {
  return {
    completion_tokens: completion,
    completion_tokens_details: { accepted_prediction_tokens: 0, audio_tokens: 0, reasoning_tokens: 0, rejected_prediction_tokens: 0 },
    prompt_tokens: prompt,
    prompt_tokens_details: { audio_tokens: 0, cached_tokens: 0 },
    total_tokens: prompt + completion,
  };
}

// A request with tools gets a call of the first tool, unless it already
// carries the tool's result (then the model answers in text).
function toolCall(req) {
  const t = req.tools?.[0]?.function;
  if (req.messages?.at(-1)?.role === "tool") return null;
  return t ? { id: `call_azure${++seq}`, name: t.name, args: JSON.stringify({ city: "Paris" }) } : null;
}

function reply(ctx, req, model, fault) {
  const prompt = Math.ceil(JSON.stringify(req.messages).length / 4);
  const call = toolCall(req);
  const completion = call ? 9 : 3;
  const message = call
    ? { content: null, refusal: null, role: "assistant", tool_calls: [{ function: { arguments: call.args, name: call.name }, id: call.id, type: "function" }] }
    : { annotations: [], content: "Hello from azure!", refusal: null, role: "assistant" };
  const body = {
    choices: [{ content_filter_results: call ? {} : FILTER, finish_reason: call ? "tool_calls" : "stop", index: 0, logprobs: null, message }],
    created: Math.floor(Date.now() / 1000),
    id: `chatcmpl-azure${++seq}`,
    model,
    object: "chat.completion",
    prompt_filter_results: PROMPT_FILTER,
    system_fingerprint: "fp_azure01",
  };
  if (fault !== "nousage") {
    body.usage = usageOf(prompt, completion);
    ctx.count(prompt, completion);
  }
  ctx.json(200, body);
}

async function stream(res, ctx, req, model, fault) {
  const prompt = Math.ceil(JSON.stringify(req.messages).length / 4);
  const call = toolCall(req);
  const wantUsage = req.stream_options?.include_usage === true && fault !== "nousage";
  const id = `chatcmpl-azure${++seq}`;
  const created = Math.floor(Date.now() / 1000);
  const send = (o) => res.write(`data: ${JSON.stringify(o)}\n\n`);
  const chunk = (choice, extra = {}) => {
    const c = { choices: [{ content_filter_results: {}, ...choice, index: 0, logprobs: null }], created, id, model,
                object: "chat.completion.chunk", system_fingerprint: "fp_azure01", ...extra };
    if (req.stream_options?.include_usage) c.usage = null;
    send(c);
  };
  res.writeHead(200, { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache", "apim-request-id": "mock-apim" });
  // the prompt-filter preamble: no choices, empty id and model
  send({ choices: [], created: 0, id: "", model: "", object: "", prompt_filter_results: PROMPT_FILTER });
  chunk({ delta: { content: "", refusal: null, role: "assistant" }, finish_reason: null });
  let completion;
  if (call) {
    chunk({ delta: { tool_calls: [{ function: { arguments: "", name: call.name }, id: call.id, index: 0, type: "function" }] }, finish_reason: null });
    for (const part of ['{"city":', '"Paris"}'])
      chunk({ delta: { tool_calls: [{ function: { arguments: part }, index: 0 }] }, finish_reason: null });
    completion = 9;
  } else {
    for (const [i, text] of ["Hello", " from azure", "!"].entries()) {
      chunk({ content_filter_results: FILTER, delta: { content: text }, finish_reason: null });
      if (fault === "truncate" && i === 0) {
        // cut after the first text delta, once it is on the wire
        await new Promise((ok) => res.write("", ok));
        await new Promise((ok) => setTimeout(ok, 50));
        res.socket.destroy();
        return;
      }
    }
    completion = 3;
  }
  chunk({ delta: {}, finish_reason: call ? "tool_calls" : "stop" });
  if (wantUsage)
    send({ choices: [], created, id, model, object: "chat.completion.chunk", system_fingerprint: "fp_azure01",
           usage: usageOf(prompt, completion) });
  if (fault !== "nousage") ctx.count(prompt, completion);
  res.end("data: [DONE]\n\n");
}

function embeddings(ctx, req, model) {
  const inputs = Array.isArray(req.input) ? req.input : [req.input];
  const prompt = inputs.reduce((n, s) => n + Math.ceil(String(s).length / 4), 0);
  ctx.count(prompt, 0);
  ctx.json(200, {
    data: inputs.map((_, i) => ({ embedding: [0.25, -0.5, 0.125], index: i, object: "embedding" })),
    model,
    object: "list",
    usage: { prompt_tokens: prompt, total_tokens: prompt },
  });
}

export async function handle(req, res, body, ctx) {
  const url = new URL(req.url, "http://mock");
  const m = url.pathname.match(/^\/azure\/openai\/deployments\/([^/]+)\/(chat\/completions|embeddings)$/);
  if (req.headers["api-key"] !== KEY)
    return err(ctx, 401, "401", "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an active subscription and use a correct regional API endpoint for your resource.");
  if (!m || req.method !== "POST" || !VERSIONS.has(url.searchParams.get("api-version") || ""))
    return err(ctx, 404, "404", "Resource not found");
  const [, dep, op] = m;
  const fault = (dep.match(FAULTS) || [])[1];
  const chatModel = CHAT[dep] || (fault ? "gpt-4o-2024-08-06" : null);
  if (!chatModel && !EMBED[dep])
    return err(ctx, 404, "DeploymentNotFound", "The API deployment for this resource does not exist. If you created the deployment within the last 5 minutes, please wait a moment and try again.");
  let req2;
  try { req2 = JSON.parse(body.toString("utf8")); } catch {
    return err(ctx, 400, null, "We could not parse the JSON body of your request.", { param: null, type: "invalid_request_error" });
  }
  if (op === "embeddings") {
    if (!EMBED[dep])
      return err(ctx, 400, "OperationNotSupported", `The embeddings operation does not work with the specified model, ${chatModel}. Please choose different model and try again.`);
    return embeddings(ctx, req2, EMBED[dep]);
  }
  if (!chatModel)
    return err(ctx, 400, "OperationNotSupported", `The chatCompletion operation does not work with the specified model, ${EMBED[dep]}. Please choose different model and try again.`);
  if (!Array.isArray(req2.messages) || req2.messages.length === 0)
    return err(ctx, 400, null, "'messages' is a required property", { param: null, type: "invalid_request_error" });
  if (fault === "error-429")
    return err(ctx, 429, "429", "Requests to the ChatCompletions_Create Operation under Azure OpenAI API version 2024-10-21 have exceeded token rate limit of your current OpenAI S0 pricing tier. Please retry after 7 seconds.",
               {}, { "retry-after": "7", "retry-after-ms": "7000" });
  if (fault === "error-500") {
    res.writeHead(500, { "content-type": "text/html" });
    return res.end("<html><head><title>500 Internal Server Error</title></head><body><h1>Internal Server Error</h1></body></html>");
  }
  if (fault === "content-filter")
    return err(ctx, 400, "content_filter", "The response was filtered due to the prompt triggering Azure OpenAI's content management policy. Please modify your prompt and retry. To learn more about our content filtering policies please read our documentation: https://go.microsoft.com/fwlink/?linkid=2198766",
               { param: "prompt", status: 400, type: null,
                 innererror: { code: "ResponsibleAIPolicyViolation",
                               content_filter_result: { ...FILTER, violence: { filtered: true, severity: "medium" }, jailbreak: { filtered: false, detected: false } } } });
  if (req2.stream === true) return stream(res, ctx, req2, chatModel, fault);
  return reply(ctx, req2, chatModel, fault);
}
