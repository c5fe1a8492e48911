#!/usr/bin/env bash
# Fuzzes a running hearth from its own OpenAPI document with schemathesis: every answer must
# be a non-5xx that the document allows (status, content type, body schema). Runs once as a
# guest and once as a superuser, against a collection with every kind of field.
#
#   tests/schemathesis/run.sh [path/to/hearth] [max examples per operation]
set -euo pipefail
BIN="${1:-target/debug/hearth}"
EXAMPLES="${2:-50}"
DIR="$(mktemp -d)"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
BASE="http://127.0.0.1:$PORT"
trap 'kill "$SERVER" 2>/dev/null || true; rm -rf "$DIR"' EXIT

"$BIN" --dir "$DIR" superuser upsert fuzz@example.com fuzz-password-1 >/dev/null
"$BIN" --dir "$DIR" serve --http "127.0.0.1:$PORT" --auth-ip-limit 0 --auth-identity-limit 0 >"$DIR/server.log" 2>&1 &
SERVER=$!
for _ in $(seq 100); do curl -fs "$BASE/api/health" >/dev/null && break; sleep 0.1; done

TOKEN=$(curl -fs -X POST "$BASE/api/collections/_superusers/auth-with-password" \
  -H 'Content-Type: application/json' \
  -d '{"identity":"fuzz@example.com","password":"fuzz-password-1"}' |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
USERS=$(curl -fs "$BASE/api/collections/users" -H "Authorization: $TOKEN" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
curl -fs -X POST "$BASE/api/collections" -H "Authorization: $TOKEN" -H 'Content-Type: application/json' -d '{
  "name": "posts", "listRule": "", "viewRule": "", "createRule": "", "updateRule": "", "deleteRule": "",
  "fields": [
    {"name": "title", "type": "text", "required": true, "max": 50},
    {"name": "body", "type": "editor"},
    {"name": "views", "type": "number", "min": 0},
    {"name": "ok", "type": "bool"},
    {"name": "mail", "type": "email"},
    {"name": "site", "type": "url"},
    {"name": "when", "type": "date"},
    {"name": "tags", "type": "select", "values": ["a", "b", "c"], "maxSelect": 2},
    {"name": "kind", "type": "select", "values": ["x", "y"], "maxSelect": 1},
    {"name": "meta", "type": "json"},
    {"name": "author", "type": "relation", "collectionId": "'"$USERS"'", "maxSelect": 1},
    {"name": "place", "type": "geoPoint"},
    {"name": "created", "type": "autodate", "onCreate": true}
  ]}' >/dev/null
curl -fs "$BASE/api/openapi.json" -H "Authorization: $TOKEN" >"$DIR/openapi.json"
python3 -c "import json, openapi_spec_validator as v; v.validate(json.load(open('$DIR/openapi.json'))); print('openapi.json: valid OpenAPI 3.1')"

CHECKS=not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance
for who in guest superuser; do
  AUTH=()
  if [ "$who" = superuser ]; then AUTH=(-H "Authorization: $TOKEN"); fi
  echo "schemathesis as $who"
  schemathesis run "$DIR/openapi.json" --url "$BASE" "${AUTH[@]}" --checks "$CHECKS" \
    --max-examples "$EXAMPLES" --seed 1 --no-color --suppress-health-check=all
done
if grep -q "panicked" "$DIR/server.log"; then
  echo "the server panicked:"; grep -A3 panicked "$DIR/server.log"; exit 1
fi
