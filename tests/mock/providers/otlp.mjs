// A mock OpenTelemetry collector under /otlp: OTLP/HTTP with JSON bodies.
//   POST /otlp/v1/traces   ExportTraceServiceRequest; spans are kept
//   GET  /otlp/spans       every span received so far, flattened, each with
//                          its resource's service.name
//   POST /otlp/fail        the next N exports (body {"n":N}) answer 503
export const prefix = "/otlp";

const spans = [];
let failNext = 0;

export async function handle(req, res, body, ctx) {
  const path = req.url.split("?")[0].slice(prefix.length);
  if (req.method === "GET" && path === "/spans")
    return ctx.json(200, spans);
  if (req.method === "POST" && path === "/fail") {
    failNext = JSON.parse(body.toString("utf8") || "{}").n || 1;
    return ctx.json(200, {});
  }
  if (req.method !== "POST" || path !== "/v1/traces")
    return ctx.json(404, { error: "unknown collector path " + path });
  if (!String(req.headers["content-type"] || "").startsWith("application/json"))
    return ctx.json(415, { error: "JSON only" });
  if (failNext > 0) {
    failNext--;
    return ctx.json(503, { error: "collector unavailable (mock)" });
  }
  const doc = JSON.parse(body.toString("utf8"));
  for (const rs of doc.resourceSpans || []) {
    const svc = (rs.resource?.attributes || []).find((a) => a.key === "service.name");
    for (const ss of rs.scopeSpans || [])
      for (const sp of ss.spans || [])
        spans.push({ service: svc?.value?.stringValue, ...sp });
  }
  return ctx.json(200, { partialSuccess: {} });
}
