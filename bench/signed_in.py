"""The signed-in app workload of bench/run.py: the same data on both servers, and a wrk
script that signs each request in as a random one of 1,000 users.

The data, as a small multi-tenant app would have it:
- `teams`: 50, viewed by their members only (`id = @request.auth.team`);
- `users` (the default auth collection) gets a `team` relation: user u is in team u % 50;
- `projects`: 4 per team, viewed by the team's members (`team = @request.auth.team`);
- `tasks`: one per --records (at least one per user), task i owned by user i % 1000 (10
  each at 10k records, 1,000 each at 1M) and in one of its owner's team's projects, with an
  index on `owner`. Rules: list, view, update and delete `owner = @request.auth.id`; create
  `@request.auth.id != "" && @request.body.owner = @request.auth.id`.
Records are created through the batch API with ids chosen here (run.record_ids), users
one by one, several at a time (each create hashes a password); every user then signs in
once, in parallel, for the token its requests carry.
"""
import concurrent.futures
import json
import os
import sys
import tempfile
import urllib.error

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run  # noqa: E402  (the shared server start-up and wrk of bench/run.py)

USERS, TEAMS, PROJECTS_PER_TEAM = 1000, 50, 4
USER_PASSWORD = "member-password-1"
# Own tasks per user written into the wrk script for the view and update rows.
TASKS_IN_SCRIPT = 10

TASKS = "/api/collections/tasks/records"
LIST_OWN = TASKS + "?sort=-created&page=1&perPage=20"

# One wrk row per entry: label and the request kind the script makes.
ROWS = [
    ("signed in: list own records, sort + totals", "list"),
    ("signed in: view own record", "view"),
    ("signed in: update own record", "update"),
    ("signed in: list own, expand project.team", "expand"),
    ("signed in: auth-refresh", "refresh"),
    # Last: it adds tasks (as many as each server's speed allows), which every row above reads.
    ("signed in: create, rule checks the body", "create"),
]


class AppData:
    """Ids and relations of the seeded app; identical for both servers."""

    def __init__(self, records):
        self.tasks = max(records, USERS)
        self.team_ids = run.record_ids("teams", TEAMS)
        self.project_ids = run.record_ids("projects", TEAMS * PROJECTS_PER_TEAM)
        self.user_ids = run.record_ids("users", USERS)
        self.task_ids = run.record_ids("tasks", self.tasks)

    def team_of(self, user):
        return user % TEAMS

    def project_of(self, task):
        team = self.team_of(task % USERS)
        return self.project_ids[team * PROJECTS_PER_TEAM + (task // USERS) % PROJECTS_PER_TEAM]

    def email(self, user):
        return f"member{user}@bench.example"

    def own_tasks(self, user, limit=None):
        """Ids of the tasks `user` owns (task i belongs to user i % USERS)."""
        indexes = range(user, self.tasks, USERS)
        return [self.task_ids[i] for i in (indexes[:limit] if limit else indexes)]


def seed_people(server, data):
    """Creates the collections, teams, projects and users on `server` (after
    run.create_collections, which enables batches)."""
    token = run.superuser_token(server)
    teams = run.call(server.base, "POST", "/api/collections", {
        "name": "teams",
        "listRule": "id = @request.auth.team", "viewRule": "id = @request.auth.team",
        "fields": [{"name": "name", "type": "text"}],
    }, token)
    users = run.call(server.base, "GET", "/api/collections/users", token=token)
    run.call(server.base, "PATCH", "/api/collections/users", {"fields": users["fields"] + [
        {"name": "team", "type": "relation", "collectionId": teams["id"], "maxSelect": 1},
    ]}, token)
    projects = run.call(server.base, "POST", "/api/collections", {
        "name": "projects",
        "listRule": "team = @request.auth.team", "viewRule": "team = @request.auth.team",
        "fields": [
            {"name": "name", "type": "text"},
            {"name": "team", "type": "relation", "collectionId": teams["id"], "maxSelect": 1},
        ],
    }, token)
    own = "owner = @request.auth.id"
    run.call(server.base, "POST", "/api/collections", {
        "name": "tasks", "listRule": own, "viewRule": own, "updateRule": own, "deleteRule": own,
        "createRule": '@request.auth.id != "" && @request.body.owner = @request.auth.id',
        "fields": [
            {"name": "title", "type": "text"},
            {"name": "done", "type": "bool"},
            {"name": "owner", "type": "relation", "collectionId": users["id"], "maxSelect": 1, "required": True},
            {"name": "project", "type": "relation", "collectionId": projects["id"], "maxSelect": 1},
            {"name": "created", "type": "autodate", "onCreate": True},
            {"name": "updated", "type": "autodate", "onCreate": True, "onUpdate": True},
        ],
        "indexes": ["CREATE INDEX idx_tasks_owner ON tasks (owner)"],
    }, token)
    run.batch_create(server, token, "teams", TEAMS, lambda t: {"id": data.team_ids[t], "name": f"team {t}"})
    run.batch_create(server, token, "projects", TEAMS * PROJECTS_PER_TEAM, lambda p: {
        "id": data.project_ids[p], "name": f"project {p}", "team": data.team_ids[p // PROJECTS_PER_TEAM]})

    def user(u):
        run.call(server.base, "POST", "/api/collections/users/records", {
            "id": data.user_ids[u], "email": data.email(u), "password": USER_PASSWORD,
            "passwordConfirm": USER_PASSWORD, "team": data.team_ids[data.team_of(u)],
        }, token)

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        list(pool.map(user, range(USERS)))


def seed_tasks(server, data):
    """Creates the tasks (in batches)."""
    run.batch_create(server, run.superuser_token(server), "tasks", data.tasks, lambda i: {
        "id": data.task_ids[i], "title": f"task {i} {run.WORDS[i % len(run.WORDS)]}", "done": i % 3 == 0,
        "owner": data.user_ids[i % USERS], "project": data.project_of(i)})


def sign_in(server, data):
    """Every user's token on `server`, by auth-with-password (8 at a time)."""
    def one(u):
        return run.call(server.base, "POST", "/api/collections/users/auth-with-password",
                        {"identity": data.email(u), "password": USER_PASSWORD})["token"]

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        return list(pool.map(one, range(USERS)))


def check(servers, data, tokens):
    """Asks both servers the questions the rows ask, as three users, and stops the run if an
    answer is not what the data and rules say (wrk only counts statuses)."""
    def expect(cond, what):
        if not cond:
            raise SystemExit(f"signed-in check failed on {s.name}: {what}")

    for s in servers:
        for u in (0, 1, USERS - 1):
            token, own = tokens[s.name][u], data.own_tasks(u)
            listed = run.call(s.base, "GET", LIST_OWN, token=token)
            expect(listed["totalItems"] == len(own), f"user {u} lists {listed['totalItems']} tasks, owns {len(own)}")
            expect(all(t["owner"] == data.user_ids[u] for t in listed["items"]), f"user {u} lists another's task")
            expanded = run.call(s.base, "GET", LIST_OWN + "&expand=project.team", token=token)["items"][0]
            team = expanded.get("expand", {}).get("project", {}).get("expand", {}).get("team", {})
            expect(team.get("id") == data.team_ids[data.team_of(u)], f"user {u}'s task expands to {expanded.get('expand')}")
            expect(run.call(s.base, "GET", f"{TASKS}/{own[0]}", token=token)["id"] == own[0], "view own")
            other = data.own_tasks((u + 1) % USERS, 1)[0]
            expect(status(s, "GET", f"{TASKS}/{other}", token=token) == 404, f"user {u} sees another's task")
            expect(status(s, "PATCH", f"{TASKS}/{other}", {"done": True}, token) == 404, f"user {u} updates another's task")
            expect(status(s, "POST", TASKS, {"title": "x", "owner": data.user_ids[(u + 1) % USERS]}, token) == 400,
                   f"user {u} creates a task for another")
            refreshed = run.call(s.base, "POST", "/api/collections/users/auth-refresh", token=token)
            expect(refreshed["record"]["id"] == data.user_ids[u], "auth-refresh")


def status(server, method, path, body=None, token=None):
    try:
        run.call(server.base, method, path, body, token)
        return 200
    except urllib.error.HTTPError as e:
        return e.code


SCRIPT = """
local users = %s
local kind = "%s"
local tasks = "%s"
local list = "%s"
local threads = 0

function setup(thread)
  threads = threads + 1
  thread:set("number", threads)
end

function init(args)
  math.randomseed(os.time() * 100 + number)
end

function request()
  local u = users[math.random(#users)]
  local headers = {["Authorization"] = u.token, ["Content-Type"] = "application/json"}
  if kind == "list" then
    return wrk.format("GET", list, headers)
  elseif kind == "expand" then
    return wrk.format("GET", list .. "&expand=project.team", headers)
  elseif kind == "view" then
    return wrk.format("GET", tasks .. "/" .. u.tasks[math.random(#u.tasks)], headers)
  elseif kind == "update" then
    return wrk.format("PATCH", tasks .. "/" .. u.tasks[math.random(#u.tasks)], headers,
                      '{"title":"task renamed","done":true}')
  elseif kind == "create" then
    return wrk.format("POST", tasks, headers,
                      '{"title":"new task","done":false,"owner":"' .. u.id .. '","project":"' .. u.project .. '"}')
  else
    return wrk.format("POST", "/api/collections/users/auth-refresh", headers)
  end
end
"""


def script(kind, data, tokens):
    """Writes the wrk script for one row (its path; the caller removes it). A user's project
    for creates is that of its first task, task u."""
    users = ",\n".join(
        "{token=%s, id=%s, project=%s, tasks={%s}}" % (
            json.dumps(tokens[u]), json.dumps(data.user_ids[u]), json.dumps(data.project_of(u)),
            ",".join(json.dumps(t) for t in data.own_tasks(u, TASKS_IN_SCRIPT)))
        for u in range(USERS))
    f = tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False)
    f.write(SCRIPT % ("{\n" + users + "\n}", kind, TASKS, LIST_OWN))
    f.close()
    return f.name


def prepare(servers, records):
    """Seeds the app on every server, signs every user in, checks the answers; the data and
    each server's tokens."""
    data = AppData(records)
    for s in servers:
        seed_people(s, data)
        seed_tasks(s, data)
    tokens = {s.name: sign_in(s, data) for s in servers}
    check(servers, data, tokens)
    return data, tokens


def measure(server, kind, data, tokens, seconds, connections):
    path = script(kind, data, tokens[server.name])
    try:
        return run.wrk(server.base, seconds, connections, script=path)
    finally:
        os.unlink(path)
