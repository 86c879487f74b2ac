#!/usr/bin/env bash
# test_follow.sh: deephealth-follow against probers' web servers.  Each "prober" is a real
# lighttpd serving a snapshot with the shipped snippet (lib.sh's snapshot_server); the
# follower fetches, verifies and publishes locally.  Checked: a first fetch is the whole
# file (compressed); a new pass with nothing changed costs a 64-byte range, seen in the
# follower's own count of the bytes on the wire; a change fetches the whole file again;
# freshest picks the newest fresh source, and one that can see before a blind one; and no
# fault of a source (500, hang, refused, truncated, corrupt, older, from the future, a 200
# for the range) publishes anything the reader does not accept, or anything older.
. tests/integration/lib.sh

FOLLOW=$BUILD/deephealth-follow
S=$WORK/node
mkdir -p "$S/cache"
chmod 755 "$S"
T=$(date +%s)
SINCE=$((T - 3600))

# mksnap FILE CREATED [FAILING]: a snapshot of 2,000 registries whose body depends only on
# FAILING (none, or a dependency name that fails its registries): CREATED moves the header.
mksnap() {
	{
		echo "created $2"
		echo "interval 10"
		for d in sa1 sa2; do
			if [ "${3:-}" = "$d" ]; then echo "dep $d fail storage critical since=$SINCE cause=HTTP 500"
			else echo "dep $d pass storage critical since=$SINCE cause=HTTP 200"; fi
		done
		echo "dep auth pass auth critical witness all since=$SINCE cause=HTTP 200"
		for i in $(seq -w 0 1999); do
			d=sa$((10#$i % 2 + 1)); v=pass; by=
			[ "${3:-}" = "$d" ] && v=fail && by=" by=$d"
			echo "reg reg$i $v$by since=$SINCE uses=$d"
		done
		[ "${4:-}" = blind ] && echo "blind yes"
		[ "${4:-}" = guard ] && echo "guard yes"
	} | snap "$1"
}

# fetched URL: "HTTP-CODES BYTES" of the follower's last pass on URL, from its log.
fetched() { grep "source $1: " "$S/follow.log" | tail -n 1 | sed -n 's/.*(HTTP \([0-9 ]*\), \([0-9]*\) bytes)$/\1 \2/p'; }
# publish FILE CREATED [FAILING [blind|guard]]: as the prober does: a new file renamed into place.
# lighttpd's stat cache may serve the file it replaced for about a second: a real prober
# publishes every 10 s, so it is waited out here as a follower's next pass would.
publish() { mksnap "$1.new" "${@:2}"; mv "$1.new" "$1"; sleep 1.2; }

conf() { # SOURCES...: the node's configuration, one source per argument
	local s list=""
	for s in "$@"; do list="$list${list:+, }\"$s\""; done
	cat >"$S/dh.conf" <<EOF
snapshot = { path = "snapshot"; max_age = 120; };
responder = { counters = "counters"; overrides = "overrides"; kill_switch = "disable"; recheck_ms = 0; };
follower = { sources = ( $list ); timeout_ms = 1000; cache = "cache"; };
EOF
}
follow() { "${VG[@]}" "$FOLLOW" -c "$S/dh.conf" -v >>"$S/follow.log" 2>&1; }
created() { "$SNAPTOOL" dump "$S/snapshot" 2>/dev/null | sed -n 's/.*: OK: created \([0-9]*\) .*/\1/p'; }

snapshot_server p1
snapshot_server p2
U1=http://127.0.0.1:${PPORT[p1]}/deephealth-snapshot
U2=http://127.0.0.1:${PPORT[p2]}/deephealth-snapshot
mksnap "$WORK/p1/snapshot" $((T - 20))
chmod 644 "$WORK/p1/snapshot"
conf "$U1"

out=$("$FOLLOW" -c "$S/dh.conf" -t 2>&1)
check "-t: configuration OK" "$S/dh.conf: configuration OK (1 source)" "$out"
printf 'snapshot = { path = "s"; };\nfollower = { sources = ( "ftp://x/s" ); };\n' >"$WORK/bad.conf"
out=$("$FOLLOW" -c "$WORK/bad.conf" -t 2>&1); rc=$?
check "-t: a source that is not http(s) is a configuration error with its line" \
	"1 $WORK/bad.conf:2: follower.sources[0]: \"ftp://x/s\" is not an http:// or https:// URL" "$rc $(echo "$out" | head -n 1)"

printf 'snapshot = { path = "s"; };\n' >"$WORK/none.conf"
out=$("$FOLLOW" -c "$WORK/none.conf" -t 2>&1); rc=$?
check "-t: no source is an error" "1 $WORK/none.conf:1: follower.sources: deephealth-follow needs at least one" "$rc $(echo "$out" | head -n 1)"
rmdir "$S/cache"
check "-t: a cache directory still to be made is said" \
	"$S/dh.conf: configuration OK (1 source); the cache directory will be made" "$("$FOLLOW" -c "$S/dh.conf" -t 2>&1)"

# 1. The first fetch: the whole file, compressed by the server, published byte for byte.
follow; rc=$?
check "first pass: exit 0, the cache directory made" "0 yes" "$rc $([ -d "$S/cache" ] && echo yes)"
check "first pass: the prober's snapshot published as it is" "" "$(cmp "$WORK/p1/snapshot" "$S/snapshot" 2>&1)"
read -r st bytes <<<"$(fetched "$U1")"
size=$(stat -c %s "$WORK/p1/snapshot")
check "first pass: one 200" 200 "$st"
if [ "$bytes" -lt $((size / 2)) ]; then ok "first pass: compressed on the wire ($bytes bytes for a $size-byte snapshot)"
else not_ok "first pass: compressed on the wire" "$bytes bytes for $size"; fi

# 2. A new pass with no change: only the header moves; the follower fetches 64 bytes.
publish "$WORK/p1/snapshot" $((T - 10))
follow
read -r st bytes <<<"$(fetched "$U1")"
check "steady state: a 206 for the header" 206 "$st"
if [ "$bytes" -le 2048 ]; then ok "steady state: $bytes bytes on the wire (at most 2 KB)"
else not_ok "steady state: at most 2 KB on the wire" "$bytes bytes"; fi
check "steady state: the newer snapshot published, whole and exact" "" "$(cmp "$WORK/p1/snapshot" "$S/snapshot" 2>&1)"
check "steady state: its creation time" $((T - 10)) "$(created)"

# 3. Nothing new: the header alone says so.
follow; rc=$?
check "nothing new: the header alone, nothing published" "0 206 $((T - 10))" "$rc $(fetched "$U1" | cut -d' ' -f1) $(created)"

# 4. A verdict changes: the header's checksum no longer fits the body; the whole file again.
publish "$WORK/p1/snapshot" $((T - 5)) sa1
follow
check "a change: the whole file fetched after the header" "206 200" "$(fetched "$U1" | cut -d' ' -f1-2)"
check "a change: published exactly" "" "$(cmp "$WORK/p1/snapshot" "$S/snapshot" 2>&1)"
check "a change: reg0000 (on sa1) now fails" "fail" "$("$SNAPTOOL" dump "$S/snapshot" | awk '$2 == "reg0000" { print $3 }')"

# 5. A restarted follower starts from its cache: the header only.
publish "$WORK/p1/snapshot" $((T - 4)) sa1
follow
check "from the cache after a restart: the header only" "206 $((T - 4))" "$(fetched "$U1" | cut -d' ' -f1) $(created)"

# 6. Faults of the only source: nothing is published that the reader refuses, nothing older.
good=$(created)
cp "$S/snapshot" "$WORK/good"
put() { mv "$1" "$WORK/p1/snapshot"; sleep 1.2; } # FILE: the source's new file, as publish
fault() { # DESC: a pass, then the local snapshot must be unchanged
	follow; rc=$?
	check "$1: local snapshot unchanged" "" "$(cmp "$WORK/good" "$S/snapshot" 2>&1)"
	check "$1: exit 5 (no fresh source)" 5 "$rc"
}
# A newer snapshot cut short: its header does not fit the body held, the whole file is short.
mksnap "$WORK/p1/x" $((T - 3)) sa2
head -c 5000 "$WORK/p1/x" >"$WORK/p1/snapshot.new"; put "$WORK/p1/snapshot.new"
fault "truncated"
# A newer snapshot with another body, a bit flipped in it: neither the header with the body
# held nor the whole file passes the checksum.  (A flip in a body the follower already holds
# is healed: the header's checksum picks the body held, which is the prober's.)
mksnap "$WORK/p1/x" $((T - 3)) sa2
python3 -c 'import sys; b = bytearray(open(sys.argv[1], "rb").read()); b[4000] ^= 0x20; open(sys.argv[1], "wb").write(b)' "$WORK/p1/x"
put "$WORK/p1/x"
fault "a flipped bit"
publish "$WORK/p1/snapshot" $((T + 600)) sa1
fault "from the future (prober clock 10 min ahead)"
for why in length checksum future; do
	check "the refusal ($why) is logged with the reader's reason" 1 \
		"$(grep -c "invalid: refused: .*$why" "$S/follow.log" | awk '{ print ($1 > 0) }')"
done
publish "$WORK/p1/snapshot" $((T - 60))
follow; rc=$?
check "older than what is published: not published, exit 0" "0 $good" "$rc $(created)"
# What decided, while this door's snapshot is not refreshed: the snapshot the answers come from,
# its prober and time; never "none", which would read as if nothing were answered from.
N1=127.0.0.1:${PPORT[p1]}
AT=$(date -u -d "@$good" +%Y-%m-%dT%H:%M:%SZ)
check ".fleet: an older source: the published snapshot's prober and time, not refreshed" \
	"decided freshest $N1, snapshot $AT, not refreshed: no source has a newer snapshot" "$(sed -n 2p "$S/snapshot.fleet")"
echo '<html>not a snapshot</html>' >"$WORK/p1/x"; put "$WORK/p1/x"
fault "a page instead of a snapshot"
rm -f "$WORK/p1/snapshot"; sleep 1.2
fault "404"
kill "$(cat "$WORK/p1/lighttpd.pid")"
sleep 0.3
fault "refused (web server down)"
check ".fleet: no fresh source: still the published snapshot's prober and time (another run)" \
	"decided freshest $N1, snapshot $AT, not refreshed: no source has a fresh snapshot" "$(sed -n 2p "$S/snapshot.fleet")"
# source_header: the X-Deephealth-Source a responder of this node answers now (over FastCGI).
source_header() {
	local rp
	"$BUILD/deephealth.fcgi" -c "$S/dh.conf" -s "$S/src.sock" 2>>"$S/responder.log" &
	rp=$!
	wait_fcgi "$S/src.sock"
	env -i REQUEST_METHOD=GET HTTP_HOST=x.example REQUEST_URI=/health cgi-fcgi -bind -connect "$S/src.sock" |
		tr -d '\r' | sed -n 's/^X-Deephealth-Source: //p'
	kill "$rp"; wait "$rp" 2>/dev/null; rm -f "$S/src.sock"
}
check "X-Deephealth-Source: the snapshot answered from, not refreshed (not \"none\", not fail-open)" \
	"freshest $N1, snapshot $AT, not refreshed: no source has a fresh snapshot" "$(source_header)"
check_match "deephealthctl status: the same" "fleet +freshest $N1, snapshot $AT, not refreshed: no source has a fresh snapshot \(deephealth-follow\)" \
	"$("$BUILD/deephealthctl" -c "$S/dh.conf" status | tr -s ' ')"

# The fixture server's faults: 500, a hang bounded by timeout_ms, a 200 for the range.
FIXDIR=$WORK
start_fix f500
mode f500 500
conf "http://127.0.0.1:${FIXPORT[f500]}/deephealth-snapshot"
fault "HTTP 500"
mode f500 hang
t0=$(date +%s%N)
fault "a hung server"
ms=$((($(date +%s%N) - t0) / 1000000))
if [ "$ms" -lt 4000 ]; then ok "a hung server costs its timeouts (${ms} ms, timeout_ms 1000)"
else not_ok "a hung server is bounded" "${ms} ms"; fi
mode f500 "body not a snapshot"
fault "a 200 whose body is not a snapshot"

# 7. Two sources, freshest: the newest that can see wins; one down changes nothing.
snapshot_server p3
U3=http://127.0.0.1:${PPORT[p3]}/deephealth-snapshot
mksnap "$WORK/p2/snapshot" $((T - 2))
mksnap "$WORK/p3/snapshot" $((T - 1)) sa2 blind
chmod 644 "$WORK/p2/snapshot" "$WORK/p3/snapshot"
conf "$U2" "$U3"
follow; rc=$?
check "freshest: a newer blind one loses to a fresh one that can see" "0 $((T - 2))" "$rc $(created)"
publish "$WORK/p3/snapshot" $((T + 1)) sa2 guard
follow
check "freshest: the newest fresh source" $((T + 1)) "$(created)"
check_match "freshest: taken whole, its failover guard flag with it" ', GUARD,' "$("$SNAPTOOL" check "$S/snapshot" 2>/dev/null)"
check ".fleet: which source decided, each one's state" "decided freshest 127.0.0.1:${PPORT[p3]}|source 127.0.0.1:${PPORT[p2]} fresh|source 127.0.0.1:${PPORT[p3]} fresh" \
	"$(sed -n '2,$p' "$S/snapshot.fleet" | grep -v '^overrides ' | awk '{ print $1, $2, $3 }' | paste -sd'|')"
kill "$(cat "$WORK/p3/lighttpd.pid")"
publish "$WORK/p2/snapshot" $((T + 2))
follow; rc=$?
check "freshest: one source down, the other serves" "0 $((T + 2))" "$rc $(created)"
check_match "a source's state changes are logged" "source $U3: unreachable" "$(cat "$S/follow.log")"

# 8. Quorum 2 of 3: one prober's own trouble moves nothing; two agreeing do; with fewer than
# two probers that can see, the newest snapshot is published blind (fail open at once).
for q in q1 q2 q3; do snapshot_server $q; done
QU=(); for q in q1 q2 q3; do QU+=("http://127.0.0.1:${PPORT[$q]}/deephealth-snapshot"); done
conf "${QU[@]}"
sed -i 's/^follower = { /follower = { policy = "quorum"; quorum = 2; /' "$S/dh.conf"
rm -f "$S/snapshot" "$S/cache"/source-*
TQ=$((T + 10))
states() { # Q1 Q2 Q3: each "-" (all pass), a failing dependency (DEP/guard: guarded), or "blind"; then wait out the stat cache
	local i=1 a
	for a in "$@"; do
		case $a in -) mksnap "$WORK/q$i/x" "$TQ" ;; blind) mksnap "$WORK/q$i/x" "$TQ" "" blind ;;
		*/guard) mksnap "$WORK/q$i/x" "$TQ" "${a%/guard}" guard ;;
		*) mksnap "$WORK/q$i/x" "$TQ" "$a" ;; esac
		mv "$WORK/q$i/x" "$WORK/q$i/snapshot"; i=$((i + 1))
	done
	TQ=$((TQ + 1)); sleep 1.2
}
verdict() { "$SNAPTOOL" dump "$S/snapshot" 2>/dev/null | awk -v r="$1" '$2 == r { v = $3; for (i = 4; i <= NF; i++) if ($i ~ /^by=/) v = v " " $i; print v }'; }
states - - -
follow; rc=$?
check "quorum: all pass, published" "0 pass" "$rc $(verdict reg0000)"
states sa1 - -
follow
check "quorum 2: one prober failing sa1 (its own trouble) fails no registry" "pass" "$(verdict reg0000)"
check "quorum 2: ... nor sa1 itself" "pass" "$("$SNAPTOOL" dump "$S/snapshot" | awk '$1 == "dep" && $2 == "sa1" { print $3 }')"
states sa1 sa1 -
follow
check "quorum 2: two probers failing sa1 fail its registries, decided by sa1" "fail by=sa1" "$(verdict reg0000)"
check "quorum 2: the others stay" "pass" "$(verdict reg0001)"
check "quorum 2: the merged snapshot is as fresh as the 2nd newest" $((TQ - 1)) "$(created)"
N1=127.0.0.1:${PPORT[q1]} N2=127.0.0.1:${PPORT[q2]} N3=127.0.0.1:${PPORT[q3]}
check "quorum 2: the failing dependency's cause names the probers that decided" "HTTP 500 [2 of 3: $N1 $N2]" \
	"$("$SNAPTOOL" dump "$S/snapshot" | sed -n 's/^dep sa1 fail .* cause=//p')"
check "quorum: the .fleet file beside the snapshot" "deephealth-fleet 1|decided quorum 2 of 3|source $N1 fresh $((TQ - 1))|source $N2 fresh $((TQ - 1))|source $N3 fresh $((TQ - 1))" \
	"$(grep -v '^overrides ' "$S/snapshot.fleet" | paste -sd'|')"
# What the responders and deephealthctl make of it (a responder over FastCGI, cgi-fcgi as client).
"$BUILD/deephealth.fcgi" -c "$S/dh.conf" -s "$S/fcgi.sock" 2>"$S/responder.log" &
RPID=$!
wait_fcgi "$S/fcgi.sock"
fcgi() { env -i REQUEST_METHOD=GET HTTP_HOST="$1" REQUEST_URI="$2" cgi-fcgi -bind -connect "$S/fcgi.sock"; }
check "responder: X-Deephealth-Source says what decided" "X-Deephealth-Source: quorum 2 of 3" \
	"$(fcgi x.example /health | tr -d '\r' | grep '^X-Deephealth-Source')"
check "status.json: the fleet, each prober's state" "quorum 2 of 3 fresh fresh fresh" \
	"$(fcgi "" /deephealth/status.json | sed '1,/^\r*$/d' | python3 -c 'import json,sys; f=json.load(sys.stdin)["fleet"]; print(f["decided"], " ".join(s["state"] for s in f["sources"]))')"
check "metrics: probers by state" 'deephealth_fleet_sources{state="fresh"} 3' \
	"$(fcgi "" /deephealth/metrics | grep '^deephealth_fleet_sources{state="fresh"}')"
fcgi "" /deephealth/metrics | sed '1,/^\r*$/d' >"$S/metrics.prom"
check "metrics: each prober's state, a state set (1 for fresh, 0 for the 4 others)" "$N1 unreachable 0|$N1 invalid 0|$N1 stale 0|$N1 blind 0|$N1 fresh 1" \
	"$(sed -n 's/^deephealth_fleet_source_state{source="\([^"]*\)",state="\([a-z]*\)"} \([01]\)$/\1 \2 \3/p' "$S/metrics.prom" | grep "^$N1 " | paste -sd'|')"
check "metrics: 5 states for each of the 3 probers" 15 "$(grep -c '^deephealth_fleet_source_state{' "$S/metrics.prom")"
out=$(promtool check metrics <"$S/metrics.prom" 2>&1)
check "promtool check metrics: clean with the fleet's series" "0 []" "$? [$out]"
kill "$RPID"; wait "$RPID" 2>/dev/null
check_match "deephealthctl status: the fleet" "fleet +quorum 2 of 3 \(deephealth-follow\) +$N1 +fresh" \
	"$("$BUILD/deephealthctl" -c "$S/dh.conf" status | tr '\n' ' ' | tr -s ' ')"
states sa1 - blind
follow
check "quorum 2: a blind prober's view does not count" "pass" "$(verdict reg0000)"
# The failover guard is a vote too (docs/guard.md): held when 2 of the 3 hold it.
guarded() { "$SNAPTOOL" check "$S/snapshot" 2>/dev/null | grep -c ', GUARD,'; }
states sa1/guard sa1 sa1
follow
check "quorum 2: one prober's guard does not hold the region; its verdicts count" "0 fail by=sa1" \
	"$(guarded) $(verdict reg0000)"
states sa1/guard sa1/guard sa1
follow
check "quorum 2: two probers' guards hold it (GUARD), the verdicts merged underneath" "1 fail by=sa1" \
	"$(guarded) $(verdict reg0000)"
kill "$(cat "$WORK/q2/lighttpd.pid")" "$(cat "$WORK/q3/lighttpd.pid")"
states sa1 - -
follow; rc=$?
"$SNAPTOOL" check "$S/snapshot" >/dev/null 2>&1
check "quorum 2, one prober left: published blind (the responders fail open now)" "0 4" "$rc $?"
check_match "quorum short: logged" 'of the 2 probers a quorum needs can see: published BLIND' "$(cat "$S/follow.log")"
printf 'snapshot = { path = "s"; };\nfollower = { sources = ( "http://a/s", "http://b/s" ); policy = "quorum"; quorum = 3; };\n' >"$WORK/q.conf"
out=$("$FOLLOW" -c "$WORK/q.conf" -t 2>&1); rc=$?
check "-t: a quorum larger than the sources is an error" \
	"1 $WORK/q.conf:2: follower.quorum (3) is more than the 2 sources: no registry could ever fail" "$rc $(echo "$out" | head -n 1)"

# 9. The lock: one run at a time per cache directory.
flock "$S/cache/follow.lock" -c "\"$FOLLOW\" -c \"$S/dh.conf\" >/dev/null 2>&1; echo \$?" >"$WORK/locked.rc"
check "a second run while one holds the lock exits 3" 3 "$(cat "$WORK/locked.rc")"
finish
