#!/usr/bin/env python3
"""Admin page render times with 100k records in a collection (issue: every page under 50 ms
server-side). Starts a release hearth, creates `posts` (100k rows, inserted straight into
data.db in one transaction) and `comments` (relation to posts, so its record form cannot
list every post), signs in through the login form, then times sequential requests to each
page over one keep-alive connection on loopback. Prints a markdown table of p50/p99.

    cargo build --release && python3 bench/ui_pages.py [--records 100000] [--requests 200]
"""
import argparse
import http.client
import os
import random
import re
import sqlite3
import string
import sys
import tempfile
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run import EMAIL, PASSWORD, call, start_hearth  # noqa: E402

ALPHABET = string.ascii_lowercase + string.digits


def seed(server, tmp, records):
    token = call(server.base, "POST", "/api/collections/_superusers/auth-with-password",
                 {"identity": EMAIL, "password": PASSWORD})["token"]
    users = call(server.base, "GET", "/api/collections/users", token=token)
    posts = call(server.base, "POST", "/api/collections", {
        "name": "posts", "listRule": "", "viewRule": "",
        "fields": [
            {"name": "title", "type": "text", "presentable": True},
            {"name": "body", "type": "editor"},
            {"name": "views", "type": "number"},
            {"name": "published", "type": "bool"},
            {"name": "tags", "type": "select", "values": ["news", "tech", "life"], "maxSelect": 2},
            {"name": "author", "type": "relation", "collectionId": users["id"], "maxSelect": 1},
            {"name": "created", "type": "autodate", "onCreate": True},
            {"name": "updated", "type": "autodate", "onCreate": True, "onUpdate": True},
        ],
        "indexes": ["CREATE INDEX idx_posts_views ON posts (views)"],
    }, token)
    call(server.base, "POST", "/api/collections", {
        "name": "comments",
        "fields": [
            {"name": "text", "type": "text"},
            {"name": "post", "type": "relation", "collectionId": posts["id"], "maxSelect": 1},
        ],
    }, token)
    db = sqlite3.connect(os.path.join(tmp, "hearth", "data.db"), timeout=30)
    rng = random.Random(7)
    rows = []
    for i in range(records):
        rid = "".join(rng.choice(ALPHABET) for _ in range(15))
        stamp = f"2026-01-{1 + i % 28:02d} 10:{i % 60:02d}:00.000Z"
        rows.append((rid, f"post number {i}", f"<p>body of post {i}</p>", i % 1000, i % 2,
                     '["news"]' if i % 3 else '["tech","life"]', "", stamp, stamp))
    with db:
        db.executemany("INSERT INTO posts (id, title, body, views, published, tags, author, created, updated) "
                       "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    db.close()
    return rows[len(rows) // 2][0]


class Browser:
    """One keep-alive connection with the admin's cookies."""

    def __init__(self, port):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.cookies = {}

    def request(self, method, path, form=None):
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        body = None
        if form is not None:
            body = urllib.parse.urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        self.conn.request(method, path, body=body, headers=headers)
        res = self.conn.getresponse()
        text = res.read().decode()
        for name, value in res.getheaders():
            if name.lower() == "set-cookie":
                k, v = value.split(";", 1)[0].split("=", 1)
                self.cookies[k] = v
        return res.status, text

    def sign_in(self):
        _, html = self.request("GET", "/_/login")
        csrf = re.search(r'name="csrf" value="([^"]+)"', html).group(1)
        status, _ = self.request("POST", "/_/login", {"csrf": csrf, "email": EMAIL, "password": PASSWORD})
        assert status == 303, status


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=100_000)
    ap.add_argument("--requests", type=int, default=200)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        server = start_hearth(tmp)
        try:
            some_id = seed(server, tmp, args.records)
            browser = Browser(server.port)
            browser.sign_in()
            pages = [
                ("dashboard", "/_/"),
                ("collections", "/_/collections"),
                ("records, newest first", "/_/collections/posts/records"),
                ("records, filter title ~", "/_/collections/posts/records?filter=" + urllib.parse.quote("title ~ 'number 4242'")),
                ("records, filter on index", "/_/collections/posts/records?filter=" + urllib.parse.quote("views = 500")),
                ("records, sort by indexed", "/_/collections/posts/records?sort=-views"),
                ("records, sort unindexed", "/_/collections/posts/records?sort=title"),
                ("records, last page", f"/_/collections/posts/records?perPage=20&page={args.records // 20}"),
                ("records, 200 per page", "/_/collections/posts/records?perPage=200"),
                ("record edit form", f"/_/collections/posts/records/{some_id}"),
                ("record new form (relation to 100k)", "/_/collections/comments/records/new"),
                ("collection edit form", "/_/collections/posts/edit"),
                ("settings", "/_/settings"),
                ("mail outbox", "/_/mail"),
            ]
            print(f"{args.records} records in posts; {args.requests} sequential requests per page, one keep-alive connection\n")
            print("| page | p50 ms | p99 ms | max ms |")
            print("|---|---:|---:|---:|")
            worst = 0.0
            for label, path in pages:
                for _ in range(5):
                    status, _ = browser.request("GET", path)
                    assert status == 200, (path, status)
                times = []
                for _ in range(args.requests):
                    started = time.perf_counter()
                    status, _ = browser.request("GET", path)
                    times.append((time.perf_counter() - started) * 1000)
                    assert status == 200, (path, status)
                times.sort()
                p50, p99 = times[len(times) // 2], times[min(len(times) - 1, int(len(times) * 0.99))]
                worst = max(worst, p99)
                print(f"| {label} | {p50:.1f} | {p99:.1f} | {times[-1]:.1f} |")
            print(f"\nslowest p99: {worst:.1f} ms (target: under 50 ms)")
        finally:
            server.stop()


if __name__ == "__main__":
    main()
