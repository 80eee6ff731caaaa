// A JWKS endpoint for the JWT tests (an identity provider's
// /protocol/openid-connect/certs, as Keycloak serves it).
//   GET  /jwks/keys    the current key set (404 until one is set)
//   POST /jwks/set     replace the key set with the request body
//   GET  /jwks/count   {fetches, other}: how often /jwks/keys was fetched,
//                      and how often anything else was asked for
export const prefix = "/jwks";

let doc = null;
let fetches = 0;
let other = 0;   // requests anywhere else under /jwks (e.g. a jku URL)

export async function handle(req, res, body, ctx) {
  const path = req.url.split("?")[0].slice(prefix.length);
  if (req.method === "POST" && path === "/set") {
    doc = JSON.parse(body.toString("utf8"));
    return ctx.json(200, { ok: true });
  }
  if (path === "/count") return ctx.json(200, { fetches, other });
  if (path === "/keys") {
    fetches++;
    if (!doc) return ctx.json(404, { error: "no keys yet" });
    return ctx.json(200, doc);
  }
  other++;
  return ctx.json(404, { error: "unknown" });
}
