#!/usr/bin/env bash
# test_cli.sh: every program answers -h/--help on stdout with exit 0, -V/--version, refuses a
# bad option with exit 2 and one line on stderr naming it (not the whole usage); every man page
# is mandoc-lint clean and lists every exit code its program's usage names.
. tests/integration/lib.sh

for prog in deephealth.fcgi deephealth-probe deephealth-snap deephealthctl deephealth-follow; do
	bin=$BUILD/$prog
	for opt in -h --help; do
		out=$("${VG[@]}" "$bin" "$opt" 2>"$WORK/err"); rc=$?
		check "$prog $opt: exit 0" 0 "$rc"
		check_match "$prog $opt: usage on stdout" "^usage: $prog" "$out"
		check "$prog $opt: nothing on stderr" "" "$(cat "$WORK/err")"
	done
	for opt in -V --version; do
		check "$prog $opt" "$prog 0.1.0" "$("${VG[@]}" "$bin" "$opt" 2>&1)"
	done
	out=$("${VG[@]}" "$bin" --no-such-option 2>&1 >/dev/null); rc=$?
	check "$prog --no-such-option: exit 2" 2 "$rc"
	check "$prog --no-such-option: one line on stderr naming it" \
		"$prog: unknown option --no-such-option (see $prog -h)" "$out"
done
# Each kind of usage error, one line naming it: "EXIT STDERR" (nothing on stdout).
usage_of() { local out err rc; out=$("${VG[@]}" "$BUILD/$1" "${@:2}" 2>"$WORK/err"); rc=$?; err=$(cat "$WORK/err"); echo "$rc ${out:+stdout:$out }$err"; }
for prog in deephealth.fcgi deephealth-probe deephealth-follow; do
	check "$prog -Z" "2 $prog: unknown option -Z (see $prog -h)" "$(usage_of "$prog" -Z)"
	check "$prog -c without its argument" "2 $prog: option -c needs an argument (see $prog -h)" "$(usage_of "$prog" -c)"
	check "$prog with an argument that is not an option" "2 $prog: unexpected argument extra (see $prog -h)" "$(usage_of "$prog" -c x extra)"
	check "$prog --help=1" "2 $prog: option --help takes no argument (see $prog -h)" "$(usage_of "$prog" --help=1)"
done
for prog in deephealth-probe deephealth-follow; do
	check "$prog -r 0" "2 $prog: -r 0: not a whole number from 1 to 3600 (see $prog -h)" "$(usage_of "$prog" -r 0)"
	check "$prog -d 1x" "2 $prog: -d 1x: not a whole number from 1 to 86400 (see $prog -h)" "$(usage_of "$prog" -d 1x)"
done
check "deephealth.fcgi -n 0" "2 deephealth.fcgi: -n 0: not a whole number from 1 to 256 (see deephealth.fcgi -h)" "$(usage_of deephealth.fcgi -n 0)"
check "deephealthctl -c without its argument" "2 deephealthctl: option -c needs an argument (see deephealthctl -h)" "$(usage_of deephealthctl -c)"
check "deephealthctl without a command" "2 deephealthctl: a command is required (see deephealthctl -h)" "$(usage_of deephealthctl)"
S=deephealth-snap
check "$S without a command" "2 $S: a command is required (see $S -h)" "$(usage_of $S)"
check "$S with an unknown command" "2 $S: unknown command chek (see $S -h)" "$(usage_of $S chek x)"
check "$S compile with one file" "2 $S: compile: a FIXTURE and a SNAPSHOT are required (see $S -h)" "$(usage_of $S compile x)"
check "$S check without a snapshot" "2 $S: check: a SNAPSHOT is required (see $S -h)" "$(usage_of $S check)"
check "$S dump -q" "2 $S: dump: unknown option -q (see $S -h)" "$(usage_of $S dump -q x)"
check "$S check -a without its argument" "2 $S: check: option -a needs an argument (see $S -h)" "$(usage_of $S check -a)"

# Each program links only what it uses: the web-facing responder no libcurl and no check code.
libs() { ldd "$BUILD/$1" | awk '{ print $1 }' | sed -n 's/^\(libcurl\|libfcgi\|libconfig\|libpcre2-8\|libjansson\)\.so.*/\1/p' | sort | xargs; }
check "deephealth.fcgi links libconfig, libfcgi, libpcre2-8 and no libcurl" "libconfig libfcgi libpcre2-8" "$(libs deephealth.fcgi)"
check "deephealth-probe links libconfig, libcurl, libpcre2-8 and no libfcgi" "libconfig libcurl libpcre2-8" "$(libs deephealth-probe)"
check "deephealth-snap links none of the four libraries" "" "$(libs deephealth-snap)"
check "deephealthctl links libconfig, libcurl (where), libjansson and libpcre2-8, no libfcgi" "libconfig libcurl libjansson libpcre2-8" "$(libs deephealthctl)"
check "deephealth-follow links libconfig and libcurl only" "libconfig libcurl" "$(libs deephealth-follow)"
check "no check, exec, threshold, evaluation or registry-map code in the responder" "" \
	"$(nm "$BUILD/deephealth.fcgi" | awk '$2 == "T" { print $3 }' | grep -E '^(check_run|exec_start|state_fold|eval_build|regmap_load)$' | xargs)"
syms() { nm "$BUILD/$1" | awk 'NF == 3 { print $3 }'; }
check "no check types and no dependency loading in the responder" "" \
	"$(syms deephealth.fcgi | grep -E '^(check_types|check_http|check_tcp|check_exec|deps_conf|check_spec_free)$' | xargs)"
check "no resolver in the prober (the responder's part of the configuration)" "" \
	"$(syms deephealth-probe | grep -E '^(resolver_conf|resolver_lookup|resolver_new|policy_decide|reply_format)$' | xargs)"
check "the snapshot tool: snapshot, log and util code only" "" \
	"$(syms deephealth-snap | grep -E '^(conf_load|resolver_new|check_run|policy_decide)$' | xargs)"
check "no checks, thresholds or evaluation in deephealthctl (its HTTP is where's requests only)" "" \
	"$(syms deephealthctl | grep -E '^(check_run|check_types|state_fold|eval_build|deps_conf)$' | xargs)"
check "no resolver, decision, checks or evaluation in the follower" "" \
	"$(syms deephealth-follow | grep -E '^(resolver_conf|policy_decide|check_run|eval_build|deps_conf)$' | xargs)"

declare -A PAGE=([deephealth.fcgi]=docs/man/deephealth.fcgi.8 [deephealth-probe]=docs/man/deephealth-probe.8
	[deephealth-snap]=docs/man/deephealth-snap.1 [deephealthctl]=docs/man/deephealthctl.8
	[deephealth-follow]=docs/man/deephealth-follow.8)
for page in docs/man/*.[158]; do
	check "$page: mandoc -T lint -W warning clean" "" "$(mandoc -T lint -W warning "$page" 2>&1)"
done
for prog in "${!PAGE[@]}"; do
	# The codes the usage text names ("exit: 0 ..., 1 ..."), each an .It in EXIT STATUS.
	codes=$("$BUILD/$prog" --help | sed -n '/^exit:/,$p' | grep -oE '(^exit: |, |^ +)[0-9]+' | grep -oE '[0-9]+' | sort -u | xargs)
	listed=$(sed -n '/^\.Sh EXIT STATUS/,/^\.Sh /p' "${PAGE[$prog]}" | sed -n 's/^\.It \([0-9][0-9]*\)$/\1/p' | sort -u | xargs)
	check "$prog: man page EXIT STATUS lists every exit code of --help" "$codes" "$listed"
done
# deephealth-snap check calls OK only what a responder would use as is: stale 3, blind 4.
snapchk() { "$BUILD/deephealth-snap" check "$@" >"$WORK/snapchk.out" 2>"$WORK/snapchk.err"; echo "$? $(awk '{ print $2 }' "$WORK/snapchk.out")"; }
printf 'created now\ninterval 10\ndep a pass auth critical witness\nreg r pass\n' >"$WORK/fresh.fx"
sed 's/^created now/created now-50000/' "$WORK/fresh.fx" >"$WORK/old.fx"
printf 'blind yes\n' | cat "$WORK/fresh.fx" - >"$WORK/blind.fx"
printf 'blind yes\n' | cat "$WORK/old.fx" - >"$WORK/oldblind.fx"
for f in fresh old blind oldblind; do "$BUILD/deephealth-snap" compile "$WORK/$f.fx" "$WORK/$f.snap"; done
check "snap check: a fresh snapshot is OK" "0 OK:" "$(snapchk "$WORK/fresh.snap")"
check "snap check: 50,000 s old is STALE, exit 3" "3 STALE:" "$(snapchk "$WORK/old.snap")"
check "snap check: blind is BLIND, exit 4" "4 BLIND:" "$(snapchk "$WORK/blind.snap")"
check "snap check: stale and blind is stale first, as the responder says" "3 STALE:" "$(snapchk "$WORK/oldblind.snap")"
check "snap check -a: the configured max_age" "0 OK:" "$(snapchk -a 86400 "$WORK/old.snap")"
check_match "snap check: stale said on stderr too" 'stale: [0-9]+ s old, more than 180 s: responders fail open' "$(snapchk "$WORK/old.snap" >/dev/null; cat "$WORK/snapchk.err")"
check "snap check -a 0: a usage error naming it" "2 $S: check: -a 0: not a whole number from 1 to 86400 (see $S -h)" \
	"$(usage_of $S check -a 0 "$WORK/fresh.snap")"
check "snap dump of a blind snapshot exits 4 too" 4 "$("$BUILD/deephealth-snap" dump "$WORK/blind.snap" >/dev/null 2>&1; echo $?)"

# Every config key the loader knows is documented in deephealth.conf(5).
keys=$(sed -n 's/^\t{ "\([a-z_]*\)", OPT_.*/\1/p' $(ls src/*.c src/*/*.c fcgi/*.c | grep -v '^src/regions.c$') | sort -u)
missing=""
for k in $keys; do grep -qE "^\.It Ic ($k|[a-z]+\.$k)( |$)" docs/man/deephealth.conf.5 || missing+=" $k"; done
check "every configuration key is in deephealth.conf(5)" "" "$missing"
# ... and every key of the regions description in docs/regions.md's table.
keys=$(sed -n 's/^\t{ "\([a-z_]*\)", OPT_.*/\1/p' src/regions.c | sort -u)
missing=""
for k in $keys; do grep -qE "^\| \`([a-z_]+(\[\])?\.)?$k\` \|" docs/regions.md || missing+=" $k"; done
check "every key of the regions description is in docs/regions.md" "" "$missing"
finish
