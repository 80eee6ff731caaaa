// Mints JWTs for the identity tests with node:crypto (no dependencies).
//   node jwt-mint.mjs DIR < cases.json > tokens.json
// DIR keeps the signing keys (made on first use): rsa1, rsa2 (the rotated
// key), ec1, and writes DIR/jwks1.json (rsa1, ec1) and DIR/jwks2.json
// (rsa1, rsa2, ec1). cases.json is a list of
//   {name, key: "rsa1"|"rsa2"|"ec1"|"rsa-other"|"hs:<secret>"|"hs-pub:rsa1"|
//    "none", alg, kid, header: {...extra}, claims: {...} (merged over the
//    defaults; null deletes), tamper: "sig"|"b64"|"pad:<n>"}
// and the output maps each name to its token.
import crypto from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const dir = process.argv[2];
mkdirSync(dir, { recursive: true });
const kp = (name, make) => {
  const f = join(dir, name + ".pem");
  if (!existsSync(f)) writeFileSync(f, make().privateKey.export({ type: "pkcs8", format: "pem" }));
  const priv = crypto.createPrivateKey(readFileSync(f));
  return { priv, pub: crypto.createPublicKey(priv) };
};
const rsa = () => crypto.generateKeyPairSync("rsa", { modulusLength: 2048 });
const keys = {
  rsa1: kp("rsa1", rsa), rsa2: kp("rsa2", rsa), "rsa-other": kp("rsa-other", rsa),
  ec1: kp("ec1", () => crypto.generateKeyPairSync("ec", { namedCurve: "P-256" })),
};
const jwk = (name, alg) => ({ ...keys[name].pub.export({ format: "jwk" }), kid: name, use: "sig", alg });
writeFileSync(join(dir, "jwks1.json"), JSON.stringify({ keys: [jwk("rsa1", "RS256"), jwk("ec1", "ES256")] }));
writeFileSync(join(dir, "jwks2.json"), JSON.stringify({ keys: [jwk("rsa1", "RS256"), jwk("rsa2", "RS256"), jwk("ec1", "ES256")] }));

const b64 = (x) => Buffer.from(typeof x === "string" ? x : JSON.stringify(x)).toString("base64url");
const now = Math.floor(Date.now() / 1000);
const defaults = {
  iss: "https://sso.test/realms/aigw", aud: "aigw", sub: "uid-1",
  preferred_username: "alice", groups: ["eng"], iat: now, exp: now + 600,
  realm_access: { roles: ["user"] },
};

function sign(c) {
  const alg = c.alg || (c.key === "ec1" ? "ES256" : "RS256");
  const header = { alg, typ: "JWT", ...(c.kid === undefined ? { kid: c.key } : c.kid === null ? {} : { kid: c.kid }), ...(c.header || {}) };
  const claims = { ...defaults, ...(c.claims || {}) };
  for (const k of Object.keys(claims)) if (claims[k] === null) delete claims[k];
  const input = b64(header) + "." + b64(claims);
  let sig;
  if (c.key === "none") sig = Buffer.alloc(0);
  else if (c.key.startsWith("hs:")) sig = crypto.createHmac("sha" + alg.slice(2), c.key.slice(3)).update(input).digest();
  else if (c.key.startsWith("hs-pub:"))    // the RSA public key as an HMAC secret
    sig = crypto.createHmac("sha256", keys[c.key.slice(7)].pub.export({ type: "spki", format: "pem" })).update(input).digest();
  else if (alg.startsWith("ES")) sig = crypto.sign("sha256", Buffer.from(input), { key: keys[c.key].priv, dsaEncoding: "ieee-p1363" });
  else sig = crypto.sign("sha" + alg.slice(2), Buffer.from(input), keys[c.key].priv);
  let tok = input + "." + sig.toString("base64url");
  if (c.tamper === "sig") tok = tok.slice(0, -6) + (tok.slice(-6, -5) === "A" ? "B" : "A") + tok.slice(-5);
  if (c.tamper === "b64") tok = tok.replace(".", ".%%*");
  if (c.tamper && c.tamper.startsWith("pad:")) tok += "A".repeat(Number(c.tamper.slice(4)));
  return tok;
}

const cases = JSON.parse(readFileSync(0, "utf8"));
const out = {};
for (const c of cases) out[c.name] = sign(c);
process.stdout.write(JSON.stringify(out));
