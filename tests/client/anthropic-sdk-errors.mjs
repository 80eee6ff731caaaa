// The official @anthropic-ai/sdk client against the gateway's own errors
// on the Messages API path: a plan's rate limit (RateLimitError with
// Retry-After), a missing key (AuthenticationError), a model outside the
// plan (PermissionDeniedError). Prints TAP.
// usage: node anthropic-sdk-errors.mjs GATEWAY_URL FREE_PLAN_KEY
import Anthropic from "@anthropic-ai/sdk";

const [gw, apiKey] = process.argv.slice(2);
const client = new Anthropic({ apiKey, maxRetries: 0, timeout: 20000, baseURL: `${gw}/plan` });
let n = 0;
function ok(cond, name, detail) {
  n++;
  console.log(`${cond ? "ok" : "not ok"} ${n} - ${name}`);
  if (!cond && detail !== undefined) console.log(`#   ${JSON.stringify(detail)}`);
}
const ask = (c, model = "mock-gpt") => c.messages.create({ model, max_tokens: 16, messages: [{ role: "user", content: "hi" }] });
const caught = async (p) => { try { await p; return null; } catch (e) { return e; } };

let e = null;
for (let i = 0; i < 4 && !(e instanceof Anthropic.RateLimitError); i++) e = await caught(ask(client));
ok(e instanceof Anthropic.RateLimitError, "anthropic sdk: over the plan's limit: RateLimitError", e && e.constructor.name);
ok(e?.error?.type === "error" && e?.error?.error?.type === "rate_limit_error", "anthropic sdk: rate_limit_error body", e?.error);
ok(Number(e?.headers?.get?.("retry-after") ?? e?.headers?.["retry-after"]) > 0, "anthropic sdk: Retry-After kept");
e = await caught(ask(new Anthropic({ apiKey: "sk-wrong", maxRetries: 0, baseURL: `${gw}/plan` })));
ok(e instanceof Anthropic.AuthenticationError && e.error?.error?.type === "authentication_error",
   "anthropic sdk: bad key: AuthenticationError", e && e.constructor.name);
e = await caught(ask(client, "gpt-4o-mini"));
ok(e instanceof Anthropic.PermissionDeniedError && e.error?.error?.type === "permission_error",
   "anthropic sdk: model outside the plan: PermissionDeniedError", e && e.constructor.name);
