// Mock providers in their real wire formats (Node.js, standard library
// only). Each module in ./providers/ exports:
//   prefix: the URL prefix it owns, e.g. "/anthropic"
//   handle(req, res, body, ctx): serve one request under that prefix
// The launcher records every request per prefix and serves, for each:
//   GET {prefix}/__last   the last request: {method, path, headers, body}
//   GET {prefix}/__stats  {requests, prompt_tokens, completion_tokens}
//   POST {prefix}/__reset
// ctx.count(prompt, completion) adds to the prefix's stats.
// usage: node providers.mjs PORT
import http from "node:http";
import { readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const port = Number(process.argv[2] || 18100);
const mods = [];
for (const f of readdirSync(join(here, "providers")).sort())
  if (f.endsWith(".mjs"))
    mods.push(await import(pathToFileURL(join(here, "providers", f)).href));

const state = new Map();
function st(prefix) {
  if (!state.has(prefix))
    state.set(prefix, { last: null, stats: { requests: 0, prompt_tokens: 0, completion_tokens: 0 } });
  return state.get(prefix);
}

function json(res, status, obj) {
  const b = JSON.stringify(obj);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(b) });
  res.end(b);
}

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", async () => {
    const body = Buffer.concat(chunks);
    const path = req.url.split("?")[0];
    if (path === "/__health") return json(res, 200, { ok: true });
    const mod = mods.find((m) => path === m.prefix || path.startsWith(m.prefix + "/"));
    if (!mod) return json(res, 404, { error: { message: "no mock for " + path } });
    const s = st(mod.prefix);
    const rest = path.slice(mod.prefix.length);
    if (rest === "/__last") return s.last ? json(res, 200, s.last) : json(res, 404, {});
    if (rest === "/__stats") return json(res, 200, s.stats);
    if (rest === "/__reset") { state.delete(mod.prefix); return json(res, 200, {}); }
    s.stats.requests++;
    s.last = { method: req.method, path: req.url, headers: req.headers, body: body.toString("utf8") };
    const ctx = {
      count(p, c) { s.stats.prompt_tokens += p; s.stats.completion_tokens += c; },
      json: (status, obj, headers = {}) => {
        const b = JSON.stringify(obj);
        res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(b), ...headers });
        res.end(b);
      },
    };
    try {
      await mod.handle(req, res, body, ctx);
    } catch (e) {
      if (!res.headersSent) json(res, 500, { error: { message: "mock failure: " + e.message } });
      else res.destroy();
    }
  });
});
server.keepAliveTimeout = 60000;
server.listen(port, "127.0.0.1", () => console.error(`provider mocks on ${port}: ${mods.map((m) => m.prefix).join(" ")}`));
for (const sig of ["SIGTERM", "SIGINT"]) process.on(sig, () => { server.close(); process.exit(0); });
