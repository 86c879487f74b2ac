# fleet.sh: sourced by bench/run.sh (its row, json, ratio, meets, median; $B, $BUILD, PIDS).
# One prober's web server (real lighttpd, the shipped conf/lighttpd-snapshot.conf) serving a
# 100,000-registry snapshot, and 100 front doors' followers on loopback: the bytes a
# follower's pass costs, steady and on change, and the time from a publish until all 100
# serve it, against one follower in the same run (docs/fleet.md).
F=$B/fleet
mkdir -p "$F/www"
NF=${BENCH_FOLLOWERS:-100}

# fleet_snap FILE CREATED FAILING: 100,000 registries over 2,000 storage accounts; every
# registry on account FAILING fails.  Fixed since values: only CREATED moves the header.
fleet_snap() {
	awk -v c="$2" -v bad="$3" 'BEGIN {
		print "created " c; print "interval 10";
		for (i = 1; i <= 2000; i++)
			printf "dep sa%04d %s storage critical since=1796000000 cause=HTTP %d\n", i,
			       (i == bad ? "fail" : "pass"), (i == bad ? 500 : 200);
		print "dep auth pass auth critical witness all since=1796000000 cause=HTTP 200";
		for (i = 0; i < 100000; i++) {
			a = i % 2000 + 1;
			printf "reg reg%06d %s since=1796000000 uses=sa%04d\n", i,
			       (a == bad ? "fail by=sa" sprintf("%04d", a) : "pass"), a;
		}
	}' >"$1.fx"
	"$BUILD/deephealth-snap" compile "$1.fx" "$1.new" >/dev/null && chmod 644 "$1.new" &&
		mv "$1.new" "$1"
	rm -f "$1.fx"
}

FPORT=$(free_port)
lighttpd_base "$F/l" "$FPORT" "$F/www"
sed -e "s#/var/lib/deephealth/snapshot#$F/snapshot#" conf/lighttpd-snapshot.conf >>"$F/l/lighttpd.conf"
FT=$(date +%s)
fleet_snap "$F/snapshot" $((FT - 30)) 0
chmod -R a+rX "$F"
lighttpd -D -f "$F/l/lighttpd.conf" >"$F/l/stdout.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$FPORT/" && break; sleep 0.05; done
for i in $(seq "$NF"); do
	mkdir -p "$F/n$i/cache"
	cat >"$F/n$i/dh.conf" <<EOF
snapshot = { path = "snapshot"; max_age = 600; };
follower = { sources = ( "http://127.0.0.1:$FPORT/deephealth-snapshot" ); cache = "cache"; timeout_ms = 20000; };
EOF
done
# fleet_pass N: one pass of followers 1..N, 8 at a time (as many doors' timers would fire);
# prints the seconds until every one of them had published.
fleet_pass() {
	local t0
	t0=$(date +%s%N)
	seq "$1" | xargs -P 8 -I{} sh -c "\"$BUILD/deephealth-follow\" -v -c \"$F/n{}/dh.conf\" >>\"$F/n{}/log\" 2>&1"
	awk -v d=$(($(date +%s%N) - t0)) 'BEGIN { printf "%.2f", d / 1e9 }'
}
# fleet_bytes N: the median bytes on the wire of the last pass of followers 1..N.
fleet_bytes() {
	local i v=()
	for i in $(seq "$1"); do v+=("$(tail -n 5 "$F/n$i/log" | sed -n 's/.*HTTP [0-9 ]*, \([0-9]*\) bytes).*/\1/p' | tail -n 1)"); done
	median "${v[@]}"
}
fleet_all_at() { # CREATED: how many followers serve a snapshot created then
	local i n=0
	for i in $(seq "$NF"); do
		"$BUILD/deephealth-snap" dump "$F/n$i/snapshot" 2>/dev/null | head -n 1 | grep -q "created $1 " && n=$((n + 1))
	done
	echo "$n"
}
SIZE=$(stat -c %s "$F/snapshot")
fleet_pass "$NF" >/dev/null                       # every door starts with a copy
# Steady: the prober's next pass, nothing changed.  (Wait out lighttpd's 1 s stat cache.)
fleet_snap "$F/snapshot" $((FT - 20)) 0; sleep 1.2
one_s=$(fleet_pass 1)
fleet_snap "$F/snapshot" $((FT - 10)) 0; sleep 1.2
all_s=$(fleet_pass "$NF")
st_bytes=$(fleet_bytes "$NF")
st_ok=$(fleet_all_at $((FT - 10)))
row "fleet: follower pass, nothing changed, bytes (100k regs)" "$st_bytes" "$SIZE" "$(ratio "$st_bytes" "$SIZE")" "<= 2048 B" "$(meets "$st_bytes" "<=" 2048)"
row "fleet: publish -> $NF followers serve it, nothing changed (s)" "$all_s" "$one_s" "$(ratio "$all_s" "$one_s")" "context ($st_ok/$NF)" ""
# A change: one storage account fails 50 registries; the whole file, compressed.
fleet_snap "$F/snapshot" $((FT - 5)) 7; sleep 1.2
one_c=$(fleet_pass 1)
fleet_snap "$F/snapshot" "$FT" 8; sleep 1.2
all_c=$(fleet_pass "$NF")
ch_bytes=$(fleet_bytes "$NF")
ch_ok=$(fleet_all_at "$FT")
row "fleet: follower pass after a change, bytes (gzip)" "$ch_bytes" "$SIZE" "$(ratio "$ch_bytes" "$SIZE")" "context" ""
row "fleet: publish -> $NF followers serve it, on change (s)" "$all_c" "$one_c" "$(ratio "$all_c" "$one_c")" "context ($ch_ok/$NF)" ""
json fleet_snapshot_bytes "$SIZE"; json fleet_steady_bytes "$st_bytes"; json fleet_change_bytes "$ch_bytes"
json fleet_followers "$NF"; json fleet_steady_all_s "$all_s"; json fleet_steady_one_s "$one_s"
json fleet_change_all_s "$all_c"; json fleet_change_one_s "$one_c"
json fleet_steady_served "$st_ok"; json fleet_change_served "$ch_ok"
