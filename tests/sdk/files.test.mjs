// File uploads with the official PocketBase JS SDK, as a browser or node app does them:
// FormData and plain objects holding Blob/File values, pb.files.getURL() for originals and
// thumbnails, file tokens for protected files. Run by tests/api/sdk.rs against hearth and
// against PocketBase (HEARTH_URL), as the superuser in HEARTH_ADMIN_EMAIL/PASSWORD.
import { test } from "node:test";
import assert from "node:assert/strict";
import PocketBase, { ClientResponseError } from "pocketbase";

const url = process.env.HEARTH_URL;
const admin = new PocketBase(url);
const guest = new PocketBase(url);

// A 60x30 PNG.
const PNG = Buffer.from(
  "iVBORw0KGgoAAAANSUhEUgAAADwAAAAeCAIAAAD/+uoYAAAANElEQVR42u3OQQkAAAgEsItiVKMZzRQ+hMECLNXzTqSlpaWlpaWlpaWlpaWlpaWlpaWlryw7TKuIlDPSZgAAAABJRU5ErkJggg==",
  "base64",
);

/// Width and height from a PNG's IHDR chunk.
function pngSize(bytes) {
  const b = Buffer.from(bytes);
  assert.equal(b.subarray(1, 4).toString(), "PNG");
  return [b.readUInt32BE(16), b.readUInt32BE(20)];
}

async function fetchBytes(u) {
  const res = await fetch(u);
  return { status: res.status, res, bytes: new Uint8Array(await res.arrayBuffer()) };
}

test("files upload, serve, thumbnail and stay protected through the SDK", async () => {
  await admin.collection("_superusers").authWithPassword(
    process.env.HEARTH_ADMIN_EMAIL,
    process.env.HEARTH_ADMIN_PASSWORD,
  );
  await admin.collections.create({
    name: "albums",
    listRule: "",
    // Protected files need a token whose record passes this; public files do not.
    viewRule: "@request.auth.id != ''",
    createRule: "",
    updateRule: "",
    deleteRule: "",
    fields: [
      { name: "title", type: "text" },
      { name: "cover", type: "file", maxSelect: 1, maxSize: 10000, thumbs: ["30x30", "20x0"] },
      { name: "docs", type: "file", maxSelect: 5, maxSize: 1000000 },
      { name: "secret", type: "file", maxSelect: 1, protected: true },
      { name: "tags", type: "json" },
    ],
  });
  const albums = guest.collection("albums");

  // A FormData body, built by hand.
  const fd = new FormData();
  fd.append("title", "holiday");
  fd.append("cover", new Blob([PNG], { type: "image/png" }), "Beach Day.png");
  fd.append("docs", new Blob(["first file\n"], { type: "text/plain" }), "one.txt");
  fd.append("docs", new Blob(["second file\n"], { type: "text/plain" }), "two.txt");
  const a = await albums.create(fd);
  assert.equal(a.title, "holiday");
  assert.match(a.cover, /^beach_day_[a-z0-9]{10}\.png$/);
  assert.equal(a.docs.length, 2);
  assert.match(a.docs[0], /^one_[a-z0-9]{10}\.txt$/);

  // A plain object with File values and non-file values: the SDK sends @jsonPayload.
  const b = await albums.create({
    title: "work",
    tags: ["x", "y"],
    docs: [new File(["report"], "report.txt", { type: "text/plain" })],
    secret: new File(["password: hunter2"], "secret.txt", { type: "text/plain" }),
  });
  assert.deepEqual(b.tags, ["x", "y"]);
  assert.equal(b.docs.length, 1);

  // Reading back through getURL.
  const doc = await fetchBytes(guest.files.getURL(a, a.docs[1]));
  assert.equal(doc.status, 200);
  assert.equal(new TextDecoder().decode(doc.bytes), "second file\n");
  const cover = await fetchBytes(guest.files.getURL(a, a.cover));
  assert.equal(cover.res.headers.get("content-type"), "image/png");
  assert.deepEqual(pngSize(cover.bytes), [60, 30]);
  const download = await fetchBytes(guest.files.getURL(a, a.cover, { download: true }));
  assert.match(download.res.headers.get("content-disposition"), /^attachment/);

  // Thumbnails in the listed sizes; other sizes give the original.
  assert.deepEqual(pngSize((await fetchBytes(guest.files.getURL(a, a.cover, { thumb: "30x30" }))).bytes), [30, 30]);
  assert.deepEqual(pngSize((await fetchBytes(guest.files.getURL(a, a.cover, { thumb: "20x0" }))).bytes), [20, 10]);
  assert.deepEqual(pngSize((await fetchBytes(guest.files.getURL(a, a.cover, { thumb: "100x100" }))).bytes), [100, 100]);
  assert.deepEqual(pngSize((await fetchBytes(guest.files.getURL(a, a.cover, { thumb: "7x7" }))).bytes), [60, 30]);

  // Append and remove with the modifiers.
  const added = await albums.update(a.id, { "docs+": new File(["third"], "three.txt") });
  assert.equal(added.docs.length, 3);
  const removed = await albums.update(a.id, { "docs-": [a.docs[0]] });
  assert.deepEqual(removed.docs, [a.docs[1], added.docs[2]]);
  assert.equal((await fetchBytes(guest.files.getURL(a, a.docs[0]))).status, 404);

  // Protected: only with a file token.
  assert.equal((await fetchBytes(guest.files.getURL(b, b.secret))).status, 404);
  const token = await admin.files.getToken();
  const secret = await fetchBytes(admin.files.getURL(b, b.secret, { token }));
  assert.equal(secret.status, 200);
  assert.equal(new TextDecoder().decode(secret.bytes), "password: hunter2");
  await assert.rejects(guest.files.getToken(), (e) => e instanceof ClientResponseError && e.status === 401);

  // A file over the field's limit is a validation error.
  await assert.rejects(
    albums.create({ cover: new File([new Uint8Array(20000)], "huge.png") }),
    (e) =>
      e instanceof ClientResponseError &&
      e.status === 400 &&
      e.response.data.cover.code === "validation_file_size_limit",
  );

  // Deleting the record deletes its files.
  await albums.delete(a.id);
  assert.equal((await fetchBytes(guest.files.getURL(a, a.docs[1]))).status, 404);
});

test("a batch carries files: createBatch() sends them as requests.N.field parts", async () => {
  await admin.settings.update({ batch: { enabled: true, maxRequests: 10 } });
  const albums = guest.collection("albums");
  const existing = await albums.create({ title: "before", docs: [new File(["old"], "old.txt")] });

  const batch = guest.createBatch();
  batch.collection("albums").create({
    title: "batched",
    cover: new Blob([PNG], { type: "image/png" }),
    docs: [new File(["one"], "one.txt"), new File(["two"], "two.txt")],
  });
  batch.collection("albums").update(existing.id, { "docs+": new File(["appended"], "more.txt") });
  batch.collection("albums").upsert({ id: "batchupserted01", title: "upserted", secret: new File(["s"], "s.txt") });
  const [created, updated, upserted] = await batch.send();

  assert.equal(created.status, 200);
  assert.equal(created.body.title, "batched");
  assert.match(created.body.cover, /\.png$/);
  assert.equal(created.body.docs.length, 2);
  const two = await fetchBytes(guest.files.getURL(created.body, created.body.docs[1]));
  assert.equal(new TextDecoder().decode(two.bytes), "two");
  assert.deepEqual(pngSize((await fetchBytes(guest.files.getURL(created.body, created.body.cover))).bytes), [60, 30]);

  assert.equal(updated.body.docs.length, 2);
  assert.equal(updated.body.docs[0], existing.docs[0]);
  const more = await fetchBytes(guest.files.getURL(updated.body, updated.body.docs[1]));
  assert.equal(new TextDecoder().decode(more.bytes), "appended");
  assert.equal(upserted.body.id, "batchupserted01");
  assert.notEqual(upserted.body.secret, "");

  // One refused file rolls the whole batch back: the first create is not there either.
  const failing = guest.createBatch();
  failing.collection("albums").create({ title: "rolled back", docs: [new File(["x"], "x.txt")] });
  failing.collection("albums").create({ cover: new File([new Uint8Array(20000)], "huge.png") });
  await assert.rejects(
    failing.send(),
    (e) =>
      e instanceof ClientResponseError &&
      e.status === 400 &&
      e.response.data.requests["1"].response.data.cover.code === "validation_file_size_limit",
  );
  const left = await admin.collection("albums").getFullList({ filter: 'title = "rolled back"' });
  assert.equal(left.length, 0);
});
