#!/usr/bin/env bash
# Profiles hearth under one bench/run.py workload with perf and writes a text report.
#
#   cargo build --profile profiling --bin hearth     # release + symbols
#   bench/profile.sh view|create|route [SECONDS] > report.txt
#
# With HEARTH_HOOKS_DIR set the server loads those hooks (`route` asks the
# `/api/bench/hello/{name}` route of bench/hooks.py for one).
#
# Seeds the same `posts` data as bench/run.py (10k records), drives wrk with 64
# connections, samples the server with `perf record -g` (DWARF call graphs) for SECONDS
# (default 6), and prints: req/s, CPU per request (from /proc/PID/stat), samples per
# thread, the hottest symbols per thread, and the hottest of hearth's own functions with
# their callees included. Needs perf, wrk, python3.
set -eu
workload=${1:?view or create}
seconds=${2:-6}
root=$(cd "$(dirname "$0")/.." && pwd)
bin=$root/target/profiling/hearth
[ -x "$bin" ] || { echo "build it first: cargo build --profile profiling --bin hearth" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'kill $pid 2>/dev/null || true; rm -rf "$tmp"' EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$bin" --dir "$tmp/d" superuser upsert bench@example.com bench-password-1 >/dev/null
"$bin" --dir "$tmp/d" serve --http "127.0.0.1:$port" --auth-ip-limit 0 --auth-identity-limit 0 >/dev/null 2>&1 &
pid=$!
id=$(cd "$root/bench" && python3 - "$port" <<'EOF'
import sys, time, run
class S: pass
s = S(); s.name = "hearth"; s.base = f"http://127.0.0.1:{sys.argv[1]}"
for _ in range(200):
    try:
        run.call(s.base, "GET", "/api/health"); break
    except Exception:
        time.sleep(0.05)
print(run.seed(s, 10000))
EOF
)
case $workload in
  view) url="http://127.0.0.1:$port/api/collections/posts/records/$id"; script=() ;;
  create)
    url="http://127.0.0.1:$port/api/collections/drafts/records"
    printf '%s\n' 'wrk.method = "POST"' 'wrk.headers["Content-Type"] = "application/json"' \
      "wrk.body = '{\"title\":\"bench\",\"views\":7,\"published\":true}'" > "$tmp/post.lua"
    script=(-s "$tmp/post.lua") ;;
  route) url="http://127.0.0.1:$port/api/bench/hello/ann"; script=() ;;
  *) echo "unknown workload $workload" >&2; exit 2 ;;
esac
cpu() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
wrk -t2 -c64 -d$((seconds + 4))s "${script[@]}" "$url" > "$tmp/wrk.txt" &
wrk_pid=$!
sleep 2
c0=$(cpu)
perf record -F 999 -g --call-graph dwarf,16384 -p "$pid" -o "$tmp/perf.data" -- sleep "$seconds" 2>/dev/null
c1=$(cpu)
wait $wrk_pid
rps=$(awk '/Requests\/sec/ {print $2}' "$tmp/wrk.txt")
ticks=$(getconf CLK_TCK)
echo "# hearth, $workload, 10k records, wrk -t2 -c64; perf record -F 999 -g (dwarf) for ${seconds}s"
echo "req/s: $rps"
python3 -c "print(f'CPU per request while sampled: {($c1 - $c0) / $ticks / ($rps * $seconds) * 1e6:.1f} us (perf with DWARF stacks roughly halves throughput and adds its own kernel time; compare shares, not absolutes)')"
report() { perf report -i "$tmp/perf.data" --stdio "$@" 2>/dev/null | grep -E '^\s+[0-9]+\.[0-9]+%' | sed -E 's/\s+-\s+-\s*$//; s/ +$//' | cut -c1-160; }
echo; echo "## samples per thread"; report --no-children --sort comm | head -8
echo; echo "## hottest symbols (self time, by thread)"; report --no-children --sort comm,symbol | head -30
echo; echo "## hearth's functions and SQLite's entry points, callees included"
report --children --sort symbol -g none \
  | grep -E '\] (hearth::[A-Za-z_:{}]+|[a-z_:]*(sqlite3_step|execute_batch|get_timeout|spawn_task|__x64_sys_futex|finish_task_switch[.a-z0-9]*))( \(inlined\))?$' \
  | head -40 || true
