// OAuth2 sign-in through the official PocketBase JS SDK's `authWithOAuth2Code`, with a real
// OpenID Connect provider (tests/oidc, already configured as `oidc` on the server at
// HEARTH_URL by tests/api/sdk.rs): the first sign-in creates the record, the second finds
// it, the token refreshes, and a replayed code is refused. Run against hearth and
// PocketBase alike; each prints what it saw as the last line for the Rust side to compare.
import { test } from "node:test";
import assert from "node:assert/strict";
import PocketBase from "pocketbase";
import { driveLogin } from "../oidc/drive.mjs";

const url = process.env.HEARTH_URL;
const redirectURL = "http://127.0.0.1:9/oauth2-callback";

async function signIn(pb, login, createData) {
  const methods = await pb.collection("users").listAuthMethods();
  const provider = methods.oauth2.providers.find((p) => p.name === "oidc");
  const back = await driveLogin(provider.authURL + encodeURIComponent(redirectURL), { login });
  assert.equal(back.state, provider.state);
  const auth = await pb
    .collection("users")
    .authWithOAuth2Code(provider.name, back.code, provider.codeVerifier, redirectURL, createData);
  return { auth, code: back.code, provider };
}

test("authWithOAuth2Code creates, then finds, the record of a provider's user", async () => {
  const pb = new PocketBase(url);
  const first = await signIn(pb, "sdk-sam", { name: "Sam via SDK" });
  assert.equal(first.auth.meta.isNew, true);
  assert.equal(first.auth.record.name, "Sam via SDK");
  assert.equal(first.auth.record.email, "sdk-sam@example.com");
  assert.equal(pb.authStore.isValid, true);
  const id = first.auth.record.id;

  const again = await signIn(new PocketBase(url), "sdk-sam");
  assert.equal(again.auth.meta.isNew, false);
  assert.equal(again.auth.record.id, id);

  const refreshed = await pb.collection("users").authRefresh();
  assert.equal(refreshed.record.id, id);

  await assert.rejects(
    pb.collection("users").authWithOAuth2Code("oidc", first.code, first.provider.codeVerifier, redirectURL),
    (e) => e.status === 400 && e.response.message === "Failed to fetch OAuth2 token.",
  );

  const links = await pb.collection("_externalAuths").getFullList();
  assert.deepEqual(links.map((l) => [l.provider, l.providerId, l.recordRef === id]), [["oidc", "sdk-sam", true]]);
  console.log(JSON.stringify({
    metaKeys: Object.keys(first.auth.meta).sort(),
    recordKeys: Object.keys(first.auth.record).sort(),
  }));
});
