// The official PocketBase JS SDK against a running hearth (HEARTH_URL), signed in as the
// superuser given in HEARTH_ADMIN_EMAIL / HEARTH_ADMIN_PASSWORD. Run by tests/api/sdk.rs.
import { test } from "node:test";
import assert from "node:assert/strict";
import PocketBase, { ClientResponseError } from "pocketbase";

const url = process.env.HEARTH_URL;
const admin = new PocketBase(url);
const guest = new PocketBase(url);

test("the SDK works against hearth end to end", async () => {
  // Superuser sign-in and schema set-up.
  const auth = await admin.collection("_superusers").authWithPassword(
    process.env.HEARTH_ADMIN_EMAIL,
    process.env.HEARTH_ADMIN_PASSWORD,
  );
  assert.ok(admin.authStore.isValid, "token decodes and is not expired");
  assert.equal(auth.record.email, process.env.HEARTH_ADMIN_EMAIL);

  const posts = await admin.collections.create({
    name: "posts",
    listRule: "author = @request.auth.id || published = true",
    viewRule: "author = @request.auth.id || published = true",
    createRule: "@request.auth.id != '' && author = @request.auth.id",
    updateRule: "author = @request.auth.id",
    deleteRule: "author = @request.auth.id",
    fields: [
      { name: "title", type: "text", required: true, max: 100 },
      { name: "views", type: "number" },
      { name: "published", type: "bool" },
      { name: "author", type: "relation", collectionId: "_pb_users_auth_", maxSelect: 1 },
      { name: "created", type: "autodate", onCreate: true },
      { name: "updated", type: "autodate", onCreate: true, onUpdate: true },
    ],
  });
  assert.equal(posts.name, "posts");

  // Sign-up and sign-in of an ordinary user.
  const users = guest.collection("users");
  const ann = await users.create({
    email: "ann@example.com",
    password: "password123",
    passwordConfirm: "password123",
    name: "Ann",
  });
  assert.equal(ann.name, "Ann");
  await users.authWithPassword("ann@example.com", "password123");
  assert.ok(guest.authStore.isValid);
  assert.equal(guest.authStore.record.id, ann.id);

  // Create, as the signed-in user.
  const col = guest.collection("posts");
  const titles = ["Gamma", "alpha", "Beta", "delta", "Epsilon"];
  const created = [];
  for (const [i, title] of titles.entries()) {
    created.push(await col.create({ title, views: i * 10, published: i % 2 === 0, author: ann.id }));
  }
  assert.equal(created.length, 5);

  // getList with filter, sort and paging.
  const page = await col.getList(1, 2, { filter: "views >= 10", sort: "-views" });
  assert.equal(page.totalItems, 4);
  assert.equal(page.totalPages, 2);
  assert.deepEqual(page.items.map((p) => p.title), ["Epsilon", "delta"]);
  const filtered = await col.getList(1, 10, {
    filter: guest.filter("title ~ {:q} && published = {:p}", { q: "a", p: true }),
    sort: "title",
  });
  assert.deepEqual(filtered.items.map((p) => p.title), ["Beta", "Gamma"]);

  // getFullList pages through everything; getFirstListItem finds one.
  const all = await col.getFullList({ sort: "created", batch: 2 });
  assert.equal(all.length, 5);
  const beta = await col.getFirstListItem('title = "Beta"');
  assert.equal(beta.views, 20);

  // getOne with expand.
  const one = await col.getOne(created[0].id, { expand: "author" });
  assert.equal(one.expand.author.id, ann.id);
  assert.equal(one.expand.author.email, "ann@example.com", "a user sees their own email");

  // Update and delete.
  const updated = await col.update(created[1].id, { title: "alpha two", "views+": 5 });
  assert.equal(updated.title, "alpha two");
  assert.equal(updated.views, 15);
  await col.delete(created[2].id);
  await assert.rejects(col.getOne(created[2].id), (e) => e instanceof ClientResponseError && e.status === 404);

  // A guest sees only what the rules allow.
  const anon = new PocketBase(url).collection("posts");
  const visible = await anon.getFullList({ sort: "title" });
  assert.deepEqual(visible.map((p) => p.title), ["Epsilon", "Gamma"]);

  // A batch (the SDK always sends it as multipart with @jsonPayload): all or nothing.
  await admin.settings.update({ batch: { enabled: true, maxRequests: 10 } });
  const batch = admin.createBatch();
  batch.collection("posts").create({ title: "Batch one", author: ann.id, published: true });
  batch.collection("posts").create({ title: "Batch two", author: ann.id });
  batch.collection("posts").delete(created[3].id);
  const results = await batch.send();
  assert.deepEqual(results.map((r) => r.status), [200, 200, 204]);
  assert.equal(results[0].body.title, "Batch one");
  const failing = admin.createBatch();
  failing.collection("posts").create({ title: "never saved", author: ann.id });
  failing.collection("posts").create({ title: "", author: ann.id });
  await assert.rejects(
    failing.send(),
    (e) => e instanceof ClientResponseError && e.status === 400 && e.response.data.requests["1"].code === "batch_request_failed",
  );
  const saved = await admin.collection("posts").getFullList({ filter: 'title ~ "never saved"' });
  assert.equal(saved.length, 0, "a failed batch leaves nothing");

  // A validation error arrives as a ClientResponseError with field details.
  await assert.rejects(
    col.create({ title: "", author: ann.id }),
    (e) =>
      e instanceof ClientResponseError &&
      e.status === 400 &&
      e.response.data.title.code === "validation_required",
  );
});
