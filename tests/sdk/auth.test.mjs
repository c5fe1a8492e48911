// Auth flows with the official SDK, in two phases run by tests/api/sdk.rs: `request`
// signs in, refreshes and asks for a password reset; the Rust side then takes the reset
// token from hearth's mail outbox and runs `confirm` with it (HEARTH_RESET_TOKEN).
import { writeFileSync } from "node:fs";
import { test } from "node:test";
import assert from "node:assert/strict";
import PocketBase, { ClientResponseError } from "pocketbase";

const url = process.env.HEARTH_URL;
const email = "reset@example.com";

test(`auth flows, phase ${process.env.HEARTH_PHASE}`, async () => {
  const pb = new PocketBase(url);
  const users = pb.collection("users");

  if (process.env.HEARTH_PHASE === "request") {
    await users.create({ email, password: "first-password", passwordConfirm: "first-password" });
    const auth = await users.authWithPassword(email, "first-password");
    assert.ok(pb.authStore.isValid);
    assert.equal(auth.record.email, email);
    const before = pb.authStore.token;
    await new Promise((r) => setTimeout(r, 1100)); // a later `exp`, so a different token
    const refreshed = await users.authRefresh();
    assert.equal(refreshed.record.id, auth.record.id);
    assert.notEqual(pb.authStore.token, before);
    assert.ok(pb.authStore.isValid);
    // Handed to phase two, which checks that the reset revoked it.
    writeFileSync(process.env.HEARTH_OUT, pb.authStore.token);
    assert.equal(await users.requestPasswordReset(email), true);
    assert.equal(await users.requestPasswordReset("nobody@example.com"), true);
    return;
  }

  const old = new PocketBase(url);
  old.authStore.save(process.env.HEARTH_OLD_TOKEN, null);
  assert.equal(
    await users.confirmPasswordReset(process.env.HEARTH_RESET_TOKEN, "second-password", "second-password"),
    true,
  );
  await assert.rejects(
    old.collection("users").authRefresh(),
    (e) => e instanceof ClientResponseError && e.status === 401,
    "a token from before the reset no longer works",
  );
  await assert.rejects(users.authWithPassword(email, "first-password"), (e) => e.status === 400);
  const again = await users.authWithPassword(email, "second-password");
  assert.equal(again.record.email, email);
  assert.ok(pb.authStore.isValid);
});
