// What a PocketBase app's users see once the app has moved: run against PocketBase on its
// own data and against hearth on `hearth import pocketbase` of that data (see
// tests/api/import_pocketbase.rs), it writes everything it saw to OUT, ids, timestamps and
// all, for the Rust test to compare. Tokens are left out: every sign-in makes a new one.
//
// env: HEARTH_URL, OLD_TOKEN (a user's token issued by PocketBase before the move),
//      USER_PASSWORD, ADMIN_EMAIL, ADMIN_PASSWORD, OUT

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';

import PocketBase from 'pocketbase';

const env = (key) => {
  const value = process.env[key];
  assert.ok(value, `${key} is set`);
  return value;
};
const url = env('HEARTH_URL');

async function fetched(href) {
  const res = await fetch(href);
  const bytes = Buffer.from(await res.arrayBuffer());
  return [res.status, res.headers.get('content-type'), createHash('sha256').update(bytes).digest('hex')];
}

test('a moved app answers its users as before', async () => {
  const seen = {};

  // A session from before the move goes on.
  const old = new PocketBase(url);
  old.authStore.save(env('OLD_TOKEN'), null);
  seen.refreshed = (await old.collection('users').authRefresh()).record;

  // Every user signs in with their old password and sees their own posts, files and links.
  seen.users = [];
  for (const email of ['user0@example.com', 'user1@example.com', 'user2@example.com']) {
    const pb = new PocketBase(url);
    const auth = await pb.collection('users').authWithPassword(email, env('USER_PASSWORD'));
    assert.ok(auth.token);
    const posts = await pb.collection('posts').getFullList({ sort: 'title', expand: 'owner,readers' });
    const files = {};
    for (const post of posts) {
      for (const name of [post.cover, ...post.attachments]) {
        files[name] = await fetched(pb.files.getURL(post, name));
      }
    }
    // Their OAuth2 links, as the SDK lists them for the account page.
    const links = await pb.collection('_externalAuths').getFullList({ sort: 'provider' });
    seen.users.push({ email, record: auth.record, posts, files, links });
  }

  // The view's rows, as a guest; a thumbnail PocketBase had made.
  const guest = new PocketBase(url);
  seen.view = await guest.collection('post_counts').getFullList({ sort: 'id' });

  // The superuser signs in with the old password; the app's own queries on JSON values,
  // dates and relations count the same.
  const su = new PocketBase(url);
  await su.collection('_superusers').authWithPassword(env('ADMIN_EMAIL'), env('ADMIN_PASSWORD'));
  seen.superuser = su.authStore.record?.email;
  seen.filtered = await su.collection('posts').getList(1, 10, {
    filter: "meta.n >= 1 && due > '2030-01-01' && readers.email ?= 'user2@example.com'",
    sort: '-views',
  });
  const first = seen.users[0].posts[0];
  seen.thumb = await fetched(su.files.getURL(first, first.cover, { thumb: '50x50' }));

  writeFileSync(env('OUT'), JSON.stringify(seen, null, 1));
});
