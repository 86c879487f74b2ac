# shellcheck shell=bash
# prom.sh: a real Prometheus and node_exporter on loopback for integration tests, and PromQL
# over the HTTP API.  Sourced after lib.sh (it uses PIDS, which lib.sh's cleanup stops, and
# free_port from tests/common.sh).  Every wait is bounded; nothing listens beyond 127.0.0.1.
#
#   prom_start DIR PORT TARGET...   Prometheus scraping each TARGET ("host:port/path", path
#                                   default /metrics; "...|name=value,name=value" adds target
#                                   labels) every second, one job per target (t1, t2...);
#                                   evaluating the rule files PROM_RULE_FILES (paths, space-
#                                   separated) every second and sending alerts to PROM_ALERTMANAGER
#                                   (host:port), when set
#   prom_wait_up N [TIMEOUT]        until count(up == 1) == N
#   prom_query EXPR                 the value of an instant query, or "none"
#   prom_wait_value EXPR VALUE [TIMEOUT]  until prom_query EXPR equals VALUE; prints the last value
#   node_exporter_start PORT DIR    node_exporter with only the textfile collector, on DIR
#   alertmanager_start DIR PORT URL Alertmanager, every alert its own group, delivering to the
#                                   webhook URL (firing and resolved) within seconds
#   prom_targets                    each target's health and last error, for diagnostics
#
# Prometheus's URL is kept in PROM_URL (set by prom_start), node_exporter's in NODE_EXPORTER_URL,
# Alertmanager's in AM_URL.

PROM_URL=${PROM_URL:-}
NODE_EXPORTER_URL=${NODE_EXPORTER_URL:-}
AM_URL=${AM_URL:-}
PROM_RULE_FILES=${PROM_RULE_FILES:-}
PROM_ALERTMANAGER=${PROM_ALERTMANAGER:-}

# _prom_curl ARGS...: curl that never goes through a proxy and never waits long.
_prom_curl() { curl -s --noproxy '*' --max-time 5 "$@"; }

# _prom_port_taken PORT: true (with a message) when something already listens on 127.0.0.1:PORT,
# whose answers would otherwise pass for our server's.
_prom_port_taken() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null || return 1
	echo "# 127.0.0.1:$1 is already in use" >&2
}

# _prom_wait_url PID URL SECONDS: until URL answers 200, polled every 0.1 s.  Non-zero on
# timeout or as soon as PID (the server that should answer) has exited: a port someone else
# holds must not pass for our server.
_prom_wait_url() {
	local pid=$1 url=$2 end=$((SECONDS + $3))
	while [ "$SECONDS" -lt "$end" ]; do
		kill -0 "$pid" 2>/dev/null || return 1
		[ "$(_prom_curl -o /dev/null -w '%{http_code}' --max-time 1 "$url")" = 200 ] && return 0
		sleep 0.1
	done
	return 1
}

# prom_start DIR PORT TARGET...: write DIR/prometheus.yml, start Prometheus on 127.0.0.1:PORT
# with its data in DIR/data and its log in DIR/prometheus.log, wait (at most 30 s) until
# /-/ready answers.  Its pid is added to PIDS; PROM_URL is set.  Non-zero if it did not come up.
prom_start() {
	local dir=$1 port=$2 t hostport path labels l n=0; shift 2
	_prom_port_taken "$port" && return 1
	mkdir -p "$dir/data"
	{
		printf 'global:\n  scrape_interval: 1s\n  scrape_timeout: 900ms\n  evaluation_interval: 1s\n'
		if [ -n "$PROM_RULE_FILES" ]; then
			printf 'rule_files:\n'
			for l in $PROM_RULE_FILES; do printf '  - "%s"\n' "$l"; done
		fi
		[ -n "$PROM_ALERTMANAGER" ] &&
			printf 'alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: ["%s"]\n' "$PROM_ALERTMANAGER"
		printf 'scrape_configs:\n'
		for t in "$@"; do
			n=$((n + 1))
			labels=""
			[[ $t == *"|"* ]] && labels=${t#*|} && t=${t%%|*}
			hostport=${t%%/*}
			path=/${t#*/}
			[ "$hostport" = "$t" ] && path=/metrics
			printf '  - job_name: t%d\n    metrics_path: "%s"\n    static_configs:\n      - targets: ["%s"]\n' \
				"$n" "$path" "$hostport"
			if [ -n "$labels" ]; then
				printf '        labels:\n'
				for l in ${labels//,/ }; do printf '          %s: "%s"\n' "${l%%=*}" "${l#*=}"; done
			fi
		done
	} >"$dir/prometheus.yml"
	if ! promtool check config "$dir/prometheus.yml" >"$dir/promtool.log" 2>&1; then
		echo "# prom_start: bad generated config:" >&2
		sed 's/^/#   /' "$dir/promtool.log" >&2
		return 1
	fi
	prometheus --config.file="$dir/prometheus.yml" --storage.tsdb.path="$dir/data" \
		--web.listen-address="127.0.0.1:$port" --web.enable-lifecycle \
		--log.level=warn --storage.tsdb.retention.time=1h \
		</dev/null >>"$dir/prometheus.log" 2>&1 &
	PIDS+=($!)
	PROM_URL=http://127.0.0.1:$port
	if ! _prom_wait_url "$!" "$PROM_URL/-/ready" 30; then
		echo "# prom_start: Prometheus on $PROM_URL exited or not ready after 30 s:" >&2
		tail -n 5 "$dir/prometheus.log" | sed 's/^/#   /' >&2
		return 1
	fi
}

# prom_query EXPR: run an instant query; print its value (a scalar, or a vector of one sample)
# as a number (integers without ".0"; NaN/+Inf as Prometheus spells them), "none" for an empty
# vector.  Exit 1 on an API or transport error, 2 when the result has more than one sample or is
# not a number (the message on stderr).
prom_query() {
	local body
	body=$(_prom_curl -G --data-urlencode "query=$1" "$PROM_URL/api/v1/query") || {
		echo "# prom_query: no answer from $PROM_URL" >&2; return 1; }
	printf '%s' "$body" | python3 -c '
import json, sys
try:
    d = json.load(sys.stdin)
except ValueError:
    print("# prom_query: not JSON", file=sys.stderr); sys.exit(1)
if d.get("status") != "success":
    print("# prom_query: %s: %s" % (d.get("errorType"), d.get("error")), file=sys.stderr); sys.exit(1)
r = d["data"]
if r["resultType"] == "scalar":
    v = r["result"][1]
elif r["resultType"] == "vector":
    if not r["result"]:
        print("none"); sys.exit(0)
    if len(r["result"]) > 1:
        print("# prom_query: %d samples: %s" % (len(r["result"]),
              " ".join(json.dumps(s["metric"], sort_keys=True) for s in r["result"][:5])), file=sys.stderr)
        sys.exit(2)
    v = r["result"][0]["value"][1]
else:
    print("# prom_query: result type %s" % r["resultType"], file=sys.stderr); sys.exit(2)
try:
    f = float(v)
except ValueError:
    print(v); sys.exit(0)
print(int(f) if f.is_integer() and abs(f) < 2**53 else v)
'
}

# _prom_same A B: numerically equal when both are numbers, else equal as strings.
_prom_same() {
	local num='^[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?$'
	if [[ $1 =~ $num && $2 =~ $num ]]; then
		awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 == b + 0) }'
	else
		[ "$1" = "$2" ]
	fi
}

# prom_wait_value EXPR EXPECTED [TIMEOUT]: poll prom_query EXPR (every 0.25 s, at most TIMEOUT
# seconds, default 15) until it equals EXPECTED; print the last value (or "error").  Non-zero
# when it never did.  Scrapes are asynchronous: a figure the test just caused shows up within
# a scrape interval or two.
prom_wait_value() {
	local expr=$1 want=$2 end=$((SECONDS + ${3:-15})) v
	while :; do
		v=$(prom_query "$expr" 2>/dev/null) || v=error
		if _prom_same "$v" "$want"; then echo "$v"; return 0; fi
		[ "$SECONDS" -ge "$end" ] && break
		sleep 0.25
	done
	echo "$v"
	return 1
}

# prom_wait_up N [TIMEOUT]: until exactly N targets are up (count(up == 1) == N), at most
# TIMEOUT seconds (default 30).  On timeout, names the targets that are not up, with the
# scrape error, on stderr.
prom_wait_up() {
	prom_wait_value 'count(up == 1)' "$1" "${2:-30}" >/dev/null && return 0
	echo "# prom_wait_up: not $1 targets up; targets:" >&2
	prom_targets >&2
	return 1
}

# prom_targets: one "#   JOB URL HEALTH LAST-SCRAPE-AGO LAST-ERROR" line per target (diagnostics).
prom_targets() {
	_prom_curl "$PROM_URL/api/v1/targets" | python3 -c '
import json, sys
for t in json.load(sys.stdin)["data"]["activeTargets"]:
    print("#   %s %s %s last %s %s" % (t["labels"].get("job"), t["scrapeUrl"], t["health"],
          t.get("lastScrape", "")[11:23], t.get("lastError", "")))
'
}

# node_exporter_start PORT TEXTFILE_DIR: node_exporter on 127.0.0.1:PORT with only the
# textfile collector (reading TEXTFILE_DIR/*.prom at each scrape) and without its own go_ and
# process_ series; its log in TEXTFILE_DIR/../node_exporter.log.  Waits (at most 15 s) until
# /metrics answers; pid added to PIDS, NODE_EXPORTER_URL set.
node_exporter_start() {
	local port=$1 dir=$2 log
	_prom_port_taken "$port" && return 1
	log=$(dirname "$dir")/node_exporter.log
	prometheus-node-exporter --web.listen-address="127.0.0.1:$port" \
		--collector.disable-defaults --collector.textfile --collector.textfile.directory="$dir" \
		--web.disable-exporter-metrics --log.level=warn \
		</dev/null >>"$log" 2>&1 &
	PIDS+=($!)
	NODE_EXPORTER_URL=http://127.0.0.1:$port
	if ! _prom_wait_url "$!" "$NODE_EXPORTER_URL/metrics" 15; then
		echo "# node_exporter_start: $NODE_EXPORTER_URL/metrics: exited or no answer in 15 s:" >&2
		tail -n 5 "$log" | sed 's/^/#   /' >&2
		return 1
	fi
}

# alertmanager_start DIR PORT WEBHOOK_URL: Alertmanager (Debian's prometheus-alertmanager) on
# 127.0.0.1:PORT, alone (no cluster: --cluster.listen-address empty, nothing gossips), its data
# in DIR/data and its log in DIR/alertmanager.log.  Each alert is its own group (group_by
# ['...']), notified to WEBHOOK_URL 1 s after it first fires (group_wait) and again only when it
# resolves (group_interval 2 s; repeat_interval 1 h: never within a test).  Waits (at most 30 s)
# until /-/ready answers; pid added to PIDS, AM_URL set.
alertmanager_start() {
	local dir=$1 port=$2 hook=$3
	_prom_port_taken "$port" && return 1
	mkdir -p "$dir/data"
	cat >"$dir/alertmanager.yml" <<AM_CONF
route:
  receiver: hook
  group_by: ['...']
  group_wait: 1s
  group_interval: 2s
  repeat_interval: 1h
receivers:
  - name: hook
    webhook_configs:
      - url: "$hook"
        send_resolved: true
AM_CONF
	if ! amtool check-config "$dir/alertmanager.yml" >"$dir/amtool.log" 2>&1; then
		echo "# alertmanager_start: bad generated config:" >&2
		sed 's/^/#   /' "$dir/amtool.log" >&2
		return 1
	fi
	prometheus-alertmanager --config.file="$dir/alertmanager.yml" --storage.path="$dir/data" \
		--web.listen-address="127.0.0.1:$port" --cluster.listen-address= --log.level=warn \
		</dev/null >>"$dir/alertmanager.log" 2>&1 &
	PIDS+=($!)
	AM_URL=http://127.0.0.1:$port
	if ! _prom_wait_url "$!" "$AM_URL/-/ready" 30; then
		echo "# alertmanager_start: Alertmanager on $AM_URL exited or not ready after 30 s:" >&2
		tail -n 5 "$dir/alertmanager.log" | sed 's/^/#   /' >&2
		return 1
	fi
}
