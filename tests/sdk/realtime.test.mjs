// Realtime through the official PocketBase JS SDK (subscribe/unsubscribe over SSE) against a
// running server (HEARTH_URL): events arrive, and each subscriber gets only what the
// collection's rules let it read. Run by tests/api/sdk.rs against hearth and PocketBase.
// Node has no EventSource of its own: the `eventsource` package stands in, as the SDK
// documents for Node.
import { test } from "node:test";
import assert from "node:assert/strict";
import { EventSource } from "eventsource";
import PocketBase from "pocketbase";

globalThis.EventSource = EventSource;

const url = process.env.HEARTH_URL;

/** Resolves once `list` holds `n` items, fails after `ms`. */
async function until(list, n, ms = 5000) {
  const started = Date.now();
  while (list.length < n) {
    if (Date.now() - started > ms) {
      throw new Error(`expected ${n} events, got ${list.length}: ${JSON.stringify(list)}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A fixed wait, only before checking that something did NOT arrive: absence has no
 * condition to wait on, so give a stray event time to show up. */
const pause = (ms) => new Promise((r) => setTimeout(r, ms));

test("realtime events arrive as the rules allow, and stop after unsubscribe", async () => {
  const admin = new PocketBase(url);
  const guest = new PocketBase(url);
  await admin.collection("_superusers").authWithPassword(
    process.env.HEARTH_ADMIN_EMAIL,
    process.env.HEARTH_ADMIN_PASSWORD,
  );
  await admin.collections.create({
    name: "rt_posts",
    listRule: "published = true",
    viewRule: "published = true",
    fields: [
      { name: "title", type: "text" },
      { name: "published", type: "bool" },
      { name: "views", type: "number" },
    ],
  });
  const posts = admin.collection("rt_posts");

  const seenByGuest = [];
  const seenByAdmin = [];
  const popular = [];
  const unsubscribeGuest = await guest.collection("rt_posts").subscribe("*", (e) => seenByGuest.push(e));
  await admin.collection("rt_posts").subscribe("*", (e) => seenByAdmin.push(e));
  await guest.collection("rt_posts").subscribe("*", (e) => popular.push(e), { filter: "views > 10", fields: "id,title" });

  const draft = await posts.create({ title: "draft", published: false, views: 50 });
  const news = await posts.create({ title: "news", published: true, views: 1 });
  await posts.update(news.id, { views: 99 });
  await posts.delete(news.id);

  await until(seenByGuest, 3);
  await until(seenByAdmin, 4);
  await until(popular, 2);
  await pause(200);
  assert.deepEqual(seenByGuest.map((e) => [e.action, e.record.title]), [
    ["create", "news"],
    ["update", "news"],
    ["delete", "news"],
  ]);
  assert.ok(!seenByGuest.some((e) => e.record.id === draft.id), "a guest never sees the draft");
  assert.deepEqual(seenByAdmin.map((e) => e.action), ["create", "create", "update", "delete"]);
  assert.equal(seenByAdmin[0].record.id, draft.id, "superusers see everything");
  assert.equal(seenByGuest[1].record.views, 99);
  assert.deepEqual(popular.map((e) => [e.action, Object.keys(e.record).sort()]), [
    ["update", ["id", "title"]],
    ["delete", ["id", "title"]],
  ]);

  // One record's topic: the view rule decides.
  const single = [];
  const shown = await posts.create({ title: "shown", published: true });
  const unsubscribeSingle = await guest.collection("rt_posts").subscribe(shown.id, (e) => single.push(e));
  await posts.update(shown.id, { title: "shown again" });
  await until(single, 1);
  assert.equal(single[0].record.title, "shown again");

  // After unsubscribing, nothing more arrives.
  await unsubscribeGuest();
  await unsubscribeSingle();
  const before = seenByGuest.length;
  await posts.create({ title: "after", published: true });
  await until(seenByAdmin, 7);
  await pause(300);
  assert.equal(seenByGuest.length, before);

  guest.realtime.unsubscribe();
  admin.realtime.unsubscribe();
});
