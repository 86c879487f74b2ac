#!/usr/bin/env bash
# test_owner.sh: one owner for the state (docs/security.md).  The prober, the follower and
# deephealthctl override, run by root and by the timer's user (daemon stands in for
# deephealth) in either order, write as the state directory's owner: every later run by the
# other one succeeds, every file they leave is the owner's, lock files stay 0600, and the
# snapshot keeps being published.  Root gives back what an older run as root left there; a
# third user (nobody) is refused with a line at err naming the directory, its owner and what to
# do, exit 1; an exec check runs as the owner; a credentials file only root can read is
# refused by root's run as by the timer's.  Loopback only; about 20 s.
. tests/integration/lib.sh

OU=daemon                                   # the timer's user: owns every state directory here
XU=nobody                                   # anyone else
OUID=$(id -u "$OU")
PROBE=$(www_bin "$BUILD/deephealth-probe" "$WORK/bin")
FOLLOW=$(www_bin "$BUILD/deephealth-follow" "$WORK/bin")
CTL=$(www_bin "$BUILD/deephealthctl" "$WORK/bin")

# as WHO CMD...: CMD as root, or as WHO through runuser, with the units' umask.
as() {
	local u=$1; shift
	if [ "$u" = root ]; then (umask 022; exec "$@"); else (umask 022; exec runuser -u "$u" -- "$@"); fi
}
# owners FILE...: "NAME USER MODE" of each.
owners() { for f in "$@"; do echo "${f##*/} $(stat -c '%U %a' "$f" 2>&1)"; done | xargs; }
# fresh DIR: an empty state directory of the owner's, 0755 (what the package makes).
fresh() { rm -rf "$1"; mkdir -p "$1"; chown "$OU:$OU" "$1"; chmod 755 "$1"; }
inode() { stat -c %i "$1" 2>/dev/null; }
refusal() { echo "$1: this state directory belongs to $OU, not to $XU: run as $OU, or as root, which becomes $OU"; }

# ---------------------------------------------------------------- the prober
P=$WORK/p                                   # /etc/deephealth: root's
ST=$P/state                                 # /var/lib/deephealth
mkdir -p "$P"
chmod 755 "$P"
FIXDIR=$P
start_fix sa
# An exec check that passes only when it runs as the owner, with no group of root's.
cat >"$P/whoami.sh" <<EOF
#!/bin/sh
if [ "\$(id -u)" = "$OUID" ] && ! id -G | tr ' ' '\n' | grep -qx 0; then echo "OK uid \$(id -u)"; exit 0; fi
echo "CRITICAL uid \$(id -u), groups \$(id -G)"; exit 2
EOF
printf 'Authorization: Bearer x\n' >"$P/sa.cred"
chown "$OU" "$P/sa.cred"
chmod 600 "$P/sa.cred"
echo 'contoso westeurope,eastus sa -' >"$P/registries.map"
cat >"$P/dh.conf" <<EOF
snapshot = { path = "$ST/snapshot"; max_age = 120; };
responder = { overrides = "$ST/overrides"; counters = "$RUNDIR/owner.counters"; };
prober = {
  registries = "$P/registries.map"; state = "$ST/probe.state"; lock = "$ST/probe.lock";
  event_log = "$ST/events.jsonl"; metrics = "$ST/prober.prom"; interval = 10; deadline = 4;
};
dependencies = (
  { name = "whoami"; kind = "auth"; type = "exec"; witness = true; timeout_ms = 2000;
    command = [ "$P/whoami.sh" ]; },
  { name = "sa"; kind = "storage"; type = "http"; credentials = "$P/sa.cred";
    url = "http://127.0.0.1:${FIXPORT[sa]}/blob"; timeout_ms = 1000; }
);
EOF
chmod 755 "$P/whoami.sh"
chmod 644 "$P/dh.conf" "$P/registries.map"
PFILES=("$ST/snapshot" "$ST/probe.state" "$ST/probe.lock" "$ST/events.jsonl" "$ST/prober.prom")
PMODES="snapshot $OU 644 probe.state $OU 600 probe.lock $OU 600 events.jsonl $OU 644 prober.prom $OU 644"

# probe WHO [ARGS]: one run, its output appended to $P/probe.log under a line naming who ran it.
probe() { local u=$1; shift; echo "--- $u $*" >>"$P/probe.log"; as "$u" "$PROBE" -c "$P/dh.conf" "$@" >>"$P/probe.log" 2>&1; }
# runs DESC WHO...: a run by each in turn: exit 0 and a newly published snapshot each time.
runs() {
	local desc=$1 u before rc; shift
	for u in "$@"; do
		before=$(inode "$ST/snapshot")
		probe "$u"; rc=$?
		check "prober, $desc: the run as $u exits 0 and publishes" "0 new" \
			"$rc $([ "$(inode "$ST/snapshot")" != "$before" ] && echo new || echo old)"
	done
}

for order in "root $OU" "$OU root"; do
	fresh "$ST"
	# shellcheck disable=SC2086 # the two users of the order
	runs "$order" $order $order
	check "prober, $order: every file the owner's, the lock and the state 0600" "$PMODES" "$(owners "${PFILES[@]}")"
	check "prober, $order: no temp file left" "" "$(find "$ST" -name '.*.tmp.*')"
done
check "prober: root's run says it runs as the owner" 1 \
	"$(grep -c "info: running as $OU (uid $OUID), the owner of the state directory $ST$" "$P/probe.log" | awk '{ print ($1 > 0) }')"
check_match "the exec check ran as the owner, without root's groups" '^dep whoami pass .*cause=exit 0: OK uid '"$OUID"'$' \
	"$("$SNAPTOOL" dump "$ST/snapshot" | grep '^dep whoami')"

# After the change of user the kernel keeps the process not dumpable: the owner can neither
# attach to a run that root started nor read what it holds (here its environment).
(umask 022; exec "$PROBE" -c "$P/dh.conf" -r 1 -d 3 >"$P/long.log" 2>&1) &
LP=$!
for _ in $(seq 50); do grep -q 'running as' "$P/long.log" && break; sleep 0.1; done
check "a root run that became $OU: $OU cannot read its memory" "running denied" \
	"$(grep -q 'running as' "$P/long.log" && echo running) $(runuser -u "$OU" -- cat "/proc/$LP/environ" >/dev/null 2>&1 && echo readable || echo denied)"
wait "$LP"
check "a root run that became $OU: its passes exit 0" 0 $?

# -t: root checks as the owner; anyone else is refused in one line (and the rest is said).
out=$(as root "$PROBE" -t -c "$P/dh.conf" 2>&1); rc=$?
check "prober -t as root: exit 0, checked as the owner" "0 $P/dh.conf: configuration OK (2 dependencies, 1 registry)" \
	"$rc $(grep -v 'info: running as' <<<"$out")"
out=$(as "$XU" "$PROBE" -t -c "$P/dh.conf" 2>&1); rc=$?
check "prober -t as $XU: exit 1, the refusal first" "1 $(refusal "$ST")" "$rc $(head -n 1 <<<"$out")"

# A third user: refused before anything is read or written.
before=$(inode "$ST/snapshot")
out=$(as "$XU" "$PROBE" -c "$P/dh.conf" 2>&1); rc=$?
check "prober as $XU: exit 1, two lines (the refusal, then that nothing was done)" "1 2" "$rc $(wc -l <<<"$out")"
check_match "prober as $XU: it names the directory, its owner and what to do, at err" "error: $(refusal "$ST")"$'\n'".*error: $P/dh.conf: cannot run as this user \\(errors above\\): nothing probed, nothing published$" "$out"
check "prober as $XU: nothing published" "$before" "$(inode "$ST/snapshot")"

# What an older version run as root left (issue 20): probe.state root's, 0600.  The timer's
# run is skipped (exit 6) as before, but now says why and what to do; root's next run gives
# it back, and the timer's runs work again.
chown root:root "$ST/probe.state"
probe "$OU"
check "prober: a state file of root's stops the timer's run (exit 6)" 6 $?
check_match "prober: ... and the run says whose it is and what to do" \
	"warning: $ST/probe.state belongs to root, not to $OU \\(the state directory's owner\\), whose runs may fail on it: one run as root gives it back, or chown $OU $ST/probe.state" \
	"$(cat "$P/probe.log")"
chown root:root "${PFILES[@]}"
runs "after an older root run" root
check_match "prober: root gives back what root left, said at info" \
	"info: $ST/probe.lock: root's, given to $OU \\(the state directory's owner\\) so that its runs can use it" "$(cat "$P/probe.log")"
runs "after root gave them back" "$OU" root "$OU"
check "prober, after an older root run: every file the owner's again" "$PMODES" "$(owners "${PFILES[@]}")"
# Root gives back only what it left: never the file behind a hard link or a symbolic link
# planted at a path it writes (each is replaced by the run's publish, the target untouched).
ln -f "$P/registries.map" "$ST/snapshot"
ln -sf "$P/dh.conf" "$ST/prober.prom"
runs "over a planted hard link and symbolic link" root
check "prober: the files behind them are still root's" "root root" "$(stat -c %U "$P/registries.map" "$P/dh.conf" | xargs)"
check "prober: and replaced by the owner's own" "$PMODES" "$(owners "${PFILES[@]}")"

# The credentials file is read after the change of user: one only root can read is refused
# by root's run exactly as by the timer's (never read as root and used as someone else).
chown root "$P/sa.cred"
for u in root "$OU"; do
	out=$(as "$u" "$PROBE" -c "$P/dh.conf" 2>&1); rc=$?
	check_match "prober as $u: root's credentials file is refused, exit 1" \
		"^1 .*dependency \"sa\": credentials \"$P/sa.cred\" not readable by uid $OUID \\($OU\\): Permission denied" "$rc $out"
done
chown "$OU" "$P/sa.cred"

# ---------------------------------------------------------------- the follower
snapshot_server src
T=$(date +%s)
# src_publish K: the prober's snapshot, created T-60+K, renamed into place (lighttpd's stat
# cache is waited out as in test_follow.sh).
src_publish() {
	printf 'created %s\ninterval 10\ndep a pass auth critical witness\nreg r pass\n' $((T - 60 + $1)) \
		| snap "$WORK/src/snapshot.new"
	mv "$WORK/src/snapshot.new" "$WORK/src/snapshot"
	sleep 1.2
}
F=$WORK/door
FST=$F/state
mkdir -p "$F"
chmod 755 "$F"
cat >"$F/dh.conf" <<EOF
snapshot = { path = "$FST/snapshot"; max_age = 120; };
follower = { sources = ( "http://127.0.0.1:${PPORT[src]}/deephealth-snapshot" ); timeout_ms = 2000;
  cache = "$FST/cache"; };
EOF
chmod 644 "$F/dh.conf"
FFILES=("$FST/snapshot" "$FST/snapshot.fleet" "$FST/cache" "$FST/cache/follow.lock" "$FST/cache/source-0.snapshot")
FMODES="snapshot $OU 644 snapshot.fleet $OU 644 cache $OU 755 follow.lock $OU 600 source-0.snapshot $OU 644"
created() { "$SNAPTOOL" dump "$FST/snapshot" 2>/dev/null | sed -n 's/.*: OK: created \([0-9]*\) .*/\1/p'; }
K=0
# follows DESC WHO...: a new source snapshot, then a run by each in turn: exit 0, published.
follows() {
	local desc=$1 u rc; shift
	for u in "$@"; do
		K=$((K + 1))
		src_publish $K
		as "$u" "$FOLLOW" -c "$F/dh.conf" >>"$F/follow.log" 2>&1; rc=$?
		check "follower, $desc: the run as $u exits 0 and publishes the new snapshot" "0 $((T - 60 + K))" "$rc $(created)"
	done
}
for order in "root $OU" "$OU root"; do
	fresh "$FST"
	# shellcheck disable=SC2086 # the two users of the order
	follows "$order" $order $order
	check "follower, $order: every file the owner's, the lock 0600" "$FMODES" "$(owners "${FFILES[@]}")"
done
# An older root run's cache: root's directory and files.  Root's next run gives them back.
chown -R root:root "$FST/cache"
as "$OU" "$FOLLOW" -c "$F/dh.conf" >"$F/old.log" 2>&1
check "follower: a cache of root's stops the timer's run (exit 1)" 1 $?
check_match "follower: ... and the run says whose it is and what to do" \
	"warning: $FST/cache belongs to root, not to $OU \\(the state directory's owner\\), whose runs may fail on it: one run as root gives it back" \
	"$(cat "$F/old.log")"
follows "after an older root run" root "$OU"
check "follower, after an older root run: every file the owner's again" "$FMODES" "$(owners "${FFILES[@]}")"
out=$(as "$XU" "$FOLLOW" -c "$F/dh.conf" 2>&1); rc=$?
check "follower as $XU: exit 1, two lines (the refusal, then that nothing was done)" "1 2" "$rc $(wc -l <<<"$out")"
check_match "follower as $XU: it names the directory, its owner and what to do, at err" "error: $(refusal "$FST")"$'\n'".*error: $F/dh.conf: cannot run as this user \\(errors above\\): nothing fetched, nothing published$" "$out"

# ---------------------------------------------------------------- deephealthctl override
# ctl WHO ARGS...: deephealthctl with the prober's configuration (its overrides, its event log).
ctl() { local u=$1; shift; as "$u" env -u USER -u SUDO_USER "$CTL" -c "$P/dh.conf" "$@" >>"$P/ctl.log" 2>&1; }
OFILES=("$ST/overrides" "$ST/overrides.lock")
OMODES="overrides $OU 644 overrides.lock $OU 600"
for order in "root $OU" "$OU root"; do
	# shellcheck disable=SC2086 # the two users of the order
	set -- $order
	rm -f "$ST"/overrides*
	ctl "$1" override add registry:contoso force-pass -e 1h -r "first"; r1=$?
	ctl "$2" override add registry:fabrikam force-fail -e 1h -r "second" -f; r2=$?
	ctl "$2" override remove registry:contoso; r3=$?
	ctl "$1" override add region shadow -e 1h -r "third"; r4=$?
	check "override, $order: add, add, remove, add: every one exits 0" "0 0 0 0" "$r1 $r2 $r3 $r4"
	check "override, $order: the file says what both wrote, and who" "registry:fabrikam $2 region $1" \
		"$(grep -v '^#' "$ST/overrides" | sed 's/^\([^ ]*\) .* by=\([^ ]*\) .*/\1 \2/' | xargs)"
	check "override, $order: the file and its lock the owner's, the lock 0600" "$OMODES" "$(owners "${OFILES[@]}")"
done
check "override: the event log has every change, appended as the owner" "8 $OU" \
	"$(grep -c '"event":"override"' "$ST/events.jsonl") $(stat -c %U "$ST/events.jsonl")"
# Issue 20's second report: overrides.lock of root's, 0600, from an older version.
chown root:root "$ST/overrides.lock"
ctl "$OU" override add registry:northwind force-pass -e 1h -r "locked out" -f
check "override: a lock of root's stops the timer's user (exit 1)" 1 $?
check_match "override: ... and it says whose it is and what to do" \
	"$ST/overrides.lock belongs to root, not to $OU \\(the state directory's owner\\), whose runs may fail on it: one run as root gives it back, or chown $OU $ST/overrides.lock" \
	"$(cat "$P/ctl.log")"
ctl root override add registry:northwind force-pass -e 1h -r "root gives it back" -f
ctl "$OU" override remove registry:northwind
check "override: root's next change gives the lock back, the timer's user can lock it again" "0 $OMODES" "$? $(owners "${OFILES[@]}")"
before=$(cat "$ST/overrides")
out=$(as "$XU" "$CTL" -c "$P/dh.conf" override add region force-pass -e 1h -r "x" 2>&1); rc=$?
check "override add as $XU: exit 1, the refusal, nothing changed" "1 $(refusal "$ST") same" \
	"$rc $out $([ "$(cat "$ST/overrides")" = "$before" ] && echo same)"
as "$XU" "$CTL" -c "$P/dh.conf" override list >/dev/null 2>&1
check "override list as $XU: reading is anyone's (exit 0)" 0 $?

# Last, the prober still publishes after all of the above, for both users.
runs "at the end" root "$OU"
check "prober, at the end: every file the owner's" "$PMODES" "$(owners "${PFILES[@]}")"
finish
