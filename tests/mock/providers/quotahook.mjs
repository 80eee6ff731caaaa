// Quota threshold webhook receiver under /quotahook (t2350): records
// every event (the launcher's __last/__stats) and answers 204;
// /quotahook/slow answers after 5 s (the gateway must not wait for it).
export const prefix = "/quotahook";
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export async function handle(req, res, body, ctx) {
  if (req.url.startsWith(prefix + "/slow")) await sleep(5000);
  ctx.count(0, 0);
  res.writeHead(204);
  res.end();
}
