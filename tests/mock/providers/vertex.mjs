// Google Vertex AI mock (Gemini models), in its wire format:
//   POST /vertex/token   the OAuth token endpoint: a JWT-bearer grant whose
//        RS256 assertion is verified against the test service account
//        ($AIGW_TEST_CREDENTIALS/vertex-sa.{json,pub.pem}, made by
//        tests/mock/make-credentials.sh)
//   POST /vertex/v1/projects/{p}/locations/{l}/publishers/google/models/
//        {model}:generateContent | :streamGenerateContent?alt=sse
//        with "Authorization: Bearer <a token issued here, not expired>"
// Test controls (not Google's):
//   GET  /vertex/__tokens      {issued, active, used, mode}
//   POST /vertex/__token_mode  {"expires_in": s, "fail": httpStatus|0}
//   POST /vertex/__revoke      every issued token becomes invalid
import crypto from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { googleError, serveGenerate } from "./gemini.mjs";

import { serveMessages } from "./anthropic.mjs";

export const prefix = "/vertex";
const SCOPE = "https://www.googleapis.com/auth/cloud-platform";
const GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer";

const tokens = new Map();     // access token -> expiry (ms)
const used = new Set();       // tokens that served a model request
let issued = 0;
let mode = { expires_in: 3599, fail: 0 };

function account() {
  const dir = process.env.AIGW_TEST_CREDENTIALS;
  if (!dir) throw new Error("AIGW_TEST_CREDENTIALS is not set");
  const sa = JSON.parse(readFileSync(join(dir, "vertex-sa.json"), "utf8"));
  const pub = crypto.createPublicKey(readFileSync(join(dir, "vertex-sa.pub.pem")));
  return { sa, pub };
}

function json(res, status, obj) {
  const b = JSON.stringify(obj);
  res.writeHead(status, { "content-type": "application/json; charset=utf-8",
                          "content-length": Buffer.byteLength(b) });
  res.end(b);
}

// The OAuth error shape: {"error","error_description"}.
const grantError = (res, error, description, status = 400) =>
  json(res, status, { error, error_description: description });

function checkAssertion(assertion, aud) {
  const { sa, pub } = account();
  const parts = String(assertion || "").split(".");
  if (parts.length !== 3) return ["invalid_grant", "Invalid JWT: malformed."];
  let header, claims;
  try {
    header = JSON.parse(Buffer.from(parts[0], "base64url"));
    claims = JSON.parse(Buffer.from(parts[1], "base64url"));
  } catch {
    return ["invalid_grant", "Invalid JWT: malformed."];
  }
  if (header.alg !== "RS256") return ["invalid_grant", "Invalid JWT: alg must be RS256."];
  if (header.kid !== sa.private_key_id) return ["invalid_grant", "Invalid JWT Signature."];
  const ok = crypto.verify("sha256", Buffer.from(parts[0] + "." + parts[1]), pub,
                           Buffer.from(parts[2], "base64url"));
  if (!ok) return ["invalid_grant", "Invalid JWT Signature."];
  if (claims.iss !== sa.client_email) return ["invalid_grant", "Invalid grant: account not found"];
  if (claims.aud !== aud) return ["invalid_grant", "Invalid JWT: Failed audience check."];
  if (claims.scope !== SCOPE) return ["invalid_scope", "Invalid OAuth scope or ID token audience provided."];
  const now = Math.floor(Date.now() / 1000);
  if (typeof claims.iat !== "number" || typeof claims.exp !== "number" ||
      claims.iat > now + 60 || claims.exp <= now || claims.exp - claims.iat > 3600)
    return ["invalid_grant", "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim."];
  return null;
}

function serveToken(req, res, body) {
  if (!/^application\/x-www-form-urlencoded/.test(req.headers["content-type"] || ""))
    return grantError(res, "invalid_request", "Invalid content type.");
  const form = new URLSearchParams(body.toString("utf8"));
  if (form.get("grant_type") !== GRANT)
    return grantError(res, "unsupported_grant_type", "Invalid grant_type: " + form.get("grant_type"));
  if (mode.fail)
    return grantError(res, "internal_failure", "mock: the token endpoint was told to fail", mode.fail);
  const bad = checkAssertion(form.get("assertion"), `http://${req.headers.host}${prefix}/token`);
  if (bad) return grantError(res, bad[0], bad[1]);
  const token = "ya29.mock-" + crypto.randomBytes(24).toString("base64url");
  tokens.set(token, Date.now() + mode.expires_in * 1000);
  issued++;
  json(res, 200, { access_token: token, expires_in: mode.expires_in, token_type: "Bearer" });
}

function serveControl(rest, req, res, body) {
  if (rest === "/__tokens") {
    const now = Date.now();
    return json(res, 200, { issued, used: used.size, mode,
                            active: [...tokens.values()].filter((t) => t > now).length });
  }
  if (rest === "/__token_mode") {
    const m = body.length ? JSON.parse(body.toString("utf8")) : {};
    mode = { expires_in: m.expires_in ?? 3599, fail: m.fail ?? 0 };
    return json(res, 200, mode);
  }
  tokens.clear();                    // /__revoke
  return json(res, 200, {});
}

// Text-embedding models: :predict with {"instances":[{"content"}],
// "parameters"?} -> {"predictions":[{"embeddings":{"values",
// "statistics":{"token_count","truncated"}}}]}, billed by token_count.
function servePredict(res, body, ctx, model) {
  let r;
  try { r = JSON.parse(body.toString("utf8")); }
  catch { return googleError(res, 400, "INVALID_ARGUMENT", "Invalid JSON payload received."); }
  if (!/embedding/.test(model))
    return googleError(res, 400, "FAILED_PRECONDITION", `${model} does not support :predict`);
  if (!Array.isArray(r.instances) || r.instances.length === 0 ||
      !r.instances.every((i) => typeof i.content === "string"))
    return googleError(res, 400, "INVALID_ARGUMENT", "instances: each needs a content string");
  const dims = r.parameters?.outputDimensionality || 3;
  let total = 0;
  const predictions = r.instances.map((inst, k) => {
    const n = Math.max(1, Math.ceil(inst.content.length / 4));
    total += n;
    return { embeddings: { values: Array.from({ length: dims }, (_, j) => (k + 1) * 0.01 + j * 0.001),
                           statistics: { token_count: n, truncated: false } } };
  });
  ctx.count(total, 0);
  return json(res, 200, { predictions, metadata: { billableCharacterCount: total * 4 } });
}

// Claude on Vertex AI: the Messages API body without "model", with
// "anthropic_version": "vertex-2023-10-16", at :rawPredict (JSON) or
// :streamRawPredict (SSE, "stream": true in the body).
async function serveClaude(res, body, ctx, model, method) {
  let r;
  try { r = JSON.parse(body.toString("utf8")); }
  catch { return googleError(res, 400, "INVALID_ARGUMENT", "Invalid JSON payload received."); }
  if (r.anthropic_version !== "vertex-2023-10-16")
    return json(res, 400, { type: "error", error: { type: "invalid_request_error",
      message: "anthropic_version: Input should be 'vertex-2023-10-16'" } });
  if ("model" in r)
    return json(res, 400, { type: "error", error: { type: "invalid_request_error",
      message: "model: Extra inputs are not permitted" } });
  if ((method === "streamRawPredict") !== (r.stream === true))
    return googleError(res, 400, "INVALID_ARGUMENT", `${method} does not match "stream": ${r.stream}`);
  if (method !== "rawPredict" && method !== "streamRawPredict")
    return googleError(res, 404, "NOT_FOUND", `Unknown method ${method}`);
  const { anthropic_version, ...rest } = r;
  return serveMessages({ ...rest, model }, body.length, res, ctx);
}

export async function handle(req, res, body, ctx) {
  const url = new URL(req.url, "http://mock");
  const rest = url.pathname.slice(prefix.length);
  if (["/__tokens", "/__token_mode", "/__revoke"].includes(rest))
    return serveControl(rest, req, res, body);
  if (rest === "/token" && req.method === "POST") return serveToken(req, res, body);
  const m = /^\/v1\/projects\/([^/]+)\/locations\/([^/]+)\/publishers\/(google|anthropic)\/models\/([^/:]+):([A-Za-z]+)$/
    .exec(rest);
  if (!m || req.method !== "POST")
    return googleError(res, 404, "NOT_FOUND", `The requested URL ${url.pathname} was not found on this server.`);
  const [, project, location, publisher, model, method] = m;
  const auth = /^Bearer (.+)$/.exec(req.headers.authorization || "");
  const exp = auth ? tokens.get(auth[1]) : undefined;
  if (!exp || exp <= Date.now())
    return googleError(res, 401, "UNAUTHENTICATED",
      "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.");
  used.add(auth[1]);
  if (project !== account().sa.project_id)
    return googleError(res, 403, "PERMISSION_DENIED",
      `Permission 'aiplatform.endpoints.predict' denied on resource '//aiplatform.googleapis.com/projects/${project}/locations/${location}/publishers/google/models/${model}' (or it may not exist).`);
  if (publisher === "anthropic")
    return serveClaude(res, body, ctx, model, method);
  if (method === "predict")
    return servePredict(res, body, ctx, model);
  return serveGenerate(req, res, body, ctx,
                       { name: "vertex", model, method, alt: url.searchParams.get("alt"), vertex: true });
}
