"""Drives a server with the community Python SDK (PyPI `pocketbase`, pinned in
tests/tools/requirements.txt) and prints what the SDK saw as one JSON document, with ids,
times, tokens and random file-name suffixes replaced by stable placeholders, so the runs
against hearth and against PocketBase can be compared byte for byte
(tests/api/community_tools.rs creates the schema this expects first).

    python3 tests/tools/python_sdk.py URL SUPERUSER_EMAIL SUPERUSER_PASSWORD
"""

import base64
import datetime
import hashlib
import json
import re
import struct
import sys
import threading
import time
import zlib

import httpx
import pocketbase.services.sse as sse
from pocketbase import PocketBase
from pocketbase.errors import ClientResponseError
from pocketbase.models import FileUpload
from pocketbase.models.record import Record

URL, EMAIL, PASSWORD = sys.argv[1:4]
USER_PASSWORD = "a-user-password-1"
AUTODATES = {"created", "updated", "edited"}
# PocketBase's stored file names: the sanitized original name, `_`, ten random characters.
FILE_NAME = re.compile(r"_[a-z0-9]{10}\.(png|txt)\b")
PB_DATE = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3}Z$")

# How long any wait on a server may last: a request, the realtime subscription, its events.
# Generous, for a loaded machine (the test suite in parallel on two cores); a wait ends as
# soon as what it waits for happens, so only a failure waits this long.
WAIT = 60

# pocketbase 0.17.3 starts the thread that reads the realtime stream (in `SSEClient`'s
# constructor) before `RealtimeService._connect` adds its PB_CONNECT listener. A PB_CONNECT
# read in between is passed over: the SDK never posts its subscriptions, no event comes,
# and nothing fails. That happens against either server whenever the subscribing thread is
# held up between the two, as a loaded machine sometimes holds it. The stream is read here
# only once a listener is in place, as the SDK means it to be.
_read_stream = sse.EventLoop.run


def _read_stream_once_listened(self) -> None:
    deadline = time.monotonic() + WAIT
    while not self.listeners and not self.kill and time.monotonic() < deadline:
        time.sleep(0.005)
    _read_stream(self)


sse.EventLoop.run = _read_stream_once_listened

# Every id the script learns, in the order learned: its placeholder is its label.
labels: dict[str, str] = {}
out: dict[str, object] = {}


def server() -> PocketBase:
    """A client of the server under test, its requests bounded by WAIT rather than httpx's
    default 5 s, which a password sign-in on a loaded machine can take."""
    return PocketBase(URL, timeout=WAIT)


def learn(label: str, record_id: str) -> str:
    labels[record_id] = f"<{label}>"
    return record_id


def png() -> bytes:
    """A valid 2x2 RGB PNG, made here so the script ships no binary."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + b"\xff\x00\x00" * 2 for _ in range(2))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


PNG = png()
TEXT = b"hello from the python sdk\n"


def text(s: str) -> str:
    for record_id, label in labels.items():
        s = s.replace(record_id, label)
    return FILE_NAME.sub(r"_<random>.\1", s)


def claims(token: str) -> dict:
    """A JWT's claims as the SDK could read them: times and ids aside."""
    payload = token.split(".")[1]
    data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return {k: ("<time>" if k in ("exp", "iat") else v) for k, v in data.items()}


def norm(value, key: str = ""):
    """`value` with what naturally differs between two servers replaced by placeholders."""
    if isinstance(value, Record):
        return norm(vars(value), key)
    if isinstance(value, dict):
        return {k: norm(v, k) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [norm(v, key) for v in value]
    if isinstance(value, datetime.datetime):
        return "<datetime>"
    if isinstance(value, str):
        if key == "token" and value:
            return {"token": "<token>", "claims": norm(claims(value))}
        if key in AUTODATES and PB_DATE.match(value):
            return "<date>"
        return text(value)
    return value


def record(r: Record) -> dict:
    return norm(r)


def error(e: ClientResponseError) -> dict:
    return {"status": e.status, "data": norm(e.data)}


def attempt(label: str, fn):
    """Runs `fn`, keeping its normalized result or the error the server answered."""
    try:
        out[label] = {"ok": norm(fn())}
    except ClientResponseError as e:
        out[label] = {"error": error(e)}


def auth(a) -> dict:
    return {
        "token": norm(a.token, "token"),
        "valid": a.is_valid,
        "record": record(a.record),
        "meta": norm(getattr(a, "meta", None)),
    }


def listed(result) -> dict:
    return {
        "page": result.page,
        "perPage": result.per_page,
        "totalItems": result.total_items,
        "totalPages": result.total_pages,
        "items": [record(r) for r in result.items],
    }


def fetch(url: str, **params) -> dict:
    res = httpx.get(url, params=params, timeout=WAIT)
    return {
        "status": res.status_code,
        "type": res.headers.get("content-type"),
        "disposition": text(res.headers.get("content-disposition", "")),
        "length": len(res.content),
        "sha256": hashlib.sha256(res.content).hexdigest(),
    }


# --- health, the superuser ---------------------------------------------------------------
su = server()
health = su.health.check()
out["health"] = {"code": health.code, "message": health.message, "data": health.data}

attempt(
    "superuser wrong password",
    lambda: su.collection("_superusers").auth_with_password(EMAIL, "not-the-password"),
)
signed = su.collection("_superusers").auth_with_password(EMAIL, PASSWORD)
learn("superuser", signed.record.id)
out["superuser sign-in"] = auth(signed)
out["superuser auth store"] = {
    "valid": su.auth_store.token == signed.token,
    "model": record(su.auth_store.model),
}

# --- accounts, made by the superuser with an avatar (multipart) --------------------------
alice = su.collection("authors").create(
    {
        "email": "alice@example.com",
        "emailVisibility": True,
        "password": USER_PASSWORD,
        "passwordConfirm": USER_PASSWORD,
        "name": "Alice",
        "role": "admin",
        "born": "1990-05-06 07:08:09.000Z",
        "verified": True,
        "avatar": FileUpload(("alice.png", PNG, "image/png")),
    }
)
learn("alice", alice.id)
bob = su.collection("authors").create(
    {
        "email": "bob@example.com",
        "password": USER_PASSWORD,
        "passwordConfirm": USER_PASSWORD,
        "name": "Bob",
    }
)
learn("bob", bob.id)
out["authors created"] = [record(alice), record(bob)]

tags = {}
for label in ("rust", "go", "sqlite"):
    t = su.collection("tags").create({"label": label})
    tags[label] = learn(f"tag {label}", t.id)

# --- a user signs in and refreshes ---------------------------------------------------------
user = server()
methods = user.collection("authors").list_auth_methods()
out["auth methods"] = {
    "password": vars(methods.password),
    "oauth2": {"enabled": methods.oauth2.enabled, "providers": methods.oauth2.providers},
    "mfa": vars(methods.mfa),
    "otp": vars(methods.otp),
}
out["user sign-in"] = auth(
    user.collection("authors").auth_with_password("alice@example.com", USER_PASSWORD)
)
out["user refresh"] = auth(user.collection("authors").auth_refresh())
# Impersonation has no method in this SDK; its generic `send` reaches the route.
impersonated = su.send(
    f"/api/collections/authors/impersonate/{bob.id}",
    {"method": "POST", "body": {"duration": 60}},
)
stand_in = server()
stand_in.auth_store.save(impersonated["token"], None)
again = stand_in.collection("authors").auth_refresh()
out["impersonation"] = {
    "token": norm(impersonated["token"], "token"),
    "record": norm(impersonated["record"]),
    "refresh answers the same token": again.token == impersonated["token"],
}
out["mail requests"] = {
    "verification": user.collection("authors").request_verification("bob@example.com"),
    "password reset": user.collection("authors").request_password_reset("bob@example.com"),
    "unknown address": user.collection("authors").request_password_reset("nobody@example.com"),
}
# No email change: PocketBase sends that mail before answering, and without a mailer here
# it answers 400 where hearth keeps the mail in its outbox.
attempt(
    "guest refresh",
    lambda: server().collection("authors").auth_refresh(),
)

# --- realtime: the user subscribes before the writes -----------------------------------
# Kept raw: ids learned after an event arrives still get their placeholders.
events: list[tuple[str, str, Record]] = []
seen = threading.Condition()


def listener(topic: str):
    def on(message) -> None:
        with seen:
            events.append((topic, message.action, message.record))
            seen.notify_all()

    return on


watcher = server()
watcher.collection("authors").auth_with_password("bob@example.com", USER_PASSWORD)
subscribed = threading.Event()


def after_send(response, data, _config):
    # The SDK posts the subscription on its own thread once PB_CONNECT arrives (and calls
    # this for an error answer too, before the error ends that thread).
    if (
        response.request.method == "POST"
        and response.url.path == "/api/realtime"
        and response.is_success
    ):
        subscribed.set()
    return data


watcher.after_send = after_send
watcher.collection("posts").subscribe(listener("posts"))
out["realtime subscribed"] = subscribed.wait(WAIT)

# --- records with files, as the user -----------------------------------------------------
posts = user.collection("posts")
first = posts.create(
    {
        "title": "Hello",
        "views": 7,
        "published": True,
        "contact": "alice@example.com",
        "link": "https://example.com/hello",
        "body": "<p>Hi <strong>there</strong></p>",
        "due": "2030-01-02 03:04:05.000Z",
        "status": "published",
        "labels": ["red", "1"],
        "meta": json.dumps({"n": 1, "list": [1, 2], "nested": {"ok": True}}),
        "author": alice.id,
        "tags": [tags["rust"], tags["sqlite"]],
        "cover": FileUpload(("cover.png", PNG, "image/png")),
        "attachments": FileUpload(
            ("notes.txt", TEXT, "text/plain"), ("more.txt", TEXT + TEXT, "text/plain")
        ),
    }
)
learn("post hello", first.id)
out["post created with files"] = record(first)

with seen:
    seen.wait_for(lambda: len(events) >= 1, timeout=WAIT)

second = posts.create(
    {
        "title": "Second",
        "views": 3,
        "status": "draft",
        "labels": ["green"],
        "meta": {"n": 2},
        "author": alice.id,
        "tags": [tags["go"]],
    }
)
learn("post second", second.id)
third = posts.create({"title": "Third", "views": 12, "status": "draft", "author": alice.id})
learn("post third", third.id)
out["post created as JSON"] = record(second)
attempt("post invalid", lambda: posts.create({"title": "", "status": "nope", "views": 1.5}))
attempt("guest create refused", lambda: server().collection("posts").create({"title": "x", "status": "draft"}))

# --- files back ----------------------------------------------------------------------------
out["cover"] = fetch(user.files.get_url(first, first.cover))
out["cover download"] = fetch(user.files.get_url(first, first.cover), download=1)
out["attachments"] = [fetch(user.files.get_url(first, name)) for name in first.attachments]
out["uploaded bytes match"] = {
    "cover": fetch(user.files.get_url(first, first.cover))["sha256"]
    == hashlib.sha256(PNG).hexdigest(),
    "attachment": fetch(user.files.get_url(first, first.attachments[0]))["sha256"]
    == hashlib.sha256(TEXT).hexdigest(),
}
out["avatar"] = fetch(su.files.get_url(alice, alice.avatar))
out["missing file"] = fetch(user.files.get_url(first, "nope.png"))
out["file token"] = norm(user.files.get_token(), "token")

# --- reading ---------------------------------------------------------------------------------
out["list filtered, sorted, expanded"] = listed(
    posts.get_list(
        1, 2, {"filter": "views > 1 && author.name = 'Alice'", "sort": "-views", "expand": "author,tags"}
    )
)
out["list with a multi-value filter"] = listed(
    posts.get_list(1, 10, {"filter": user.filter("tags ?= {:t} || labels ~ {:l}", {"t": tags["go"], "l": "red"}), "sort": "title"})
)
out["full list in batches of one"] = [
    record(r) for r in posts.get_full_list(batch=1, query_params={"sort": "title"})
]
out["first list item"] = record(
    posts.get_first_list_item(user.filter("title = {:t}", {"t": "Third"}))
)
attempt("first list item missing", lambda: posts.get_first_list_item('title = "none"'))
out["one, expanded"] = record(posts.get_one(first.id, {"expand": "author,tags"}))
attempt("one missing", lambda: posts.get_one("missingmissing1"))
try:
    posts.get_list(1, 5, {"filter": "nope = 1"})
    out["filter on an unknown field"] = "accepted"
except ClientResponseError as e:
    # hearth names the problem where PocketBase answers its generic message, on purpose
    # (tests/api/compat_scenarios.rs compares such answers without their message).
    e.data.pop("message", None)
    out["filter on an unknown field"] = error(e)
out["fields picked"] = listed(
    posts.get_list(1, 5, {"fields": "id,title,expand.author.name", "expand": "author", "sort": "views"})
)
out["skip total"] = listed(posts.get_list(1, 2, {"skipTotal": True, "sort": "views"}))

# --- writing ---------------------------------------------------------------------------------
out["updated"] = record(
    posts.update(
        first.id,
        {
            "title": "Hello again",
            "views+": 1,
            "tags-": [tags["rust"]],
            "attachments-": [first.attachments[1]],
        },
    )
)
out["updated with a file"] = record(
    posts.update(second.id, {"cover": FileUpload(("second.png", PNG, "image/png"))})
)
attempt(
    "update as someone else",
    lambda: watcher.collection("posts").update(first.id, {"title": "mine now"}),
)
out["deleted"] = posts.delete(third.id)
attempt("deleted is gone", lambda: posts.get_one(third.id))

# --- a batch -------------------------------------------------------------------------------
settings = su.settings.update({"batch": {"enabled": True, "maxRequests": 10, "timeout": 3}})
out["batch settings"] = settings["batch"]
batch = su.create_batch()
batch.collection("tags").create({"label": "batched"})
# This SDK posts `@jsonPayload` inside a JSON body, which PocketBase reads as no requests:
# what matters here is that hearth answers it the same way.
attempt("batch", batch.send)

# --- the view ---------------------------------------------------------------------------------
out["view"] = [
    record(r)
    for r in user.collection("post_stats").get_full_list(query_params={"sort": "title", "expand": "author"})
]

# --- realtime events -----------------------------------------------------------------------
with seen:
    seen.wait_for(lambda: len(events) >= 6, timeout=WAIT)
out["realtime events"] = [
    {"topic": topic, "action": action, "record": record(rec)} for topic, action, rec in events
]
watcher.collection("posts").unsubscribe()

# --- the superuser's view of the accounts ------------------------------------------------
out["authors as superuser"] = [
    record(r) for r in su.collection("authors").get_full_list(query_params={"sort": "email"})
]
out["authors as a guest"] = [
    record(r) for r in server().collection("authors").get_full_list(query_params={"sort": "email"})
]

# Keys sorted: records come alphabetical from both, but PocketBase keeps a json field's
# object keys in the order they were written and its settings in its structs' order, where
# hearth sorts both (a known difference, left as it is).
print(json.dumps(out, indent=1, sort_keys=True))
