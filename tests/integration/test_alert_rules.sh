#!/usr/bin/env bash
# test_alert_rules.sh: the shipped alerting rules (conf/deephealth-alerts.yml).  promtool
# checks them and runs their unit tests (tests/prom/deephealth-alerts.test.yml); every alert
# has a severity, a for:, a summary naming the region, and cases that fire and that must not;
# every series the rules read is in docs/metrics.md, every alert in its table; the four
# tunables are written once each.  Then the unit tests are shown to bite: rules that alert
# once per door instead of once per region, or without their for:, fail them.  No server
# runs; a few seconds.
. tests/integration/lib.sh
NO_PROGRAMS=1

# ---- Names: the one place to update when a file or a convention changes. -------------------
RULES=conf/deephealth-alerts.yml
UNIT=tests/prom/deephealth-alerts.test.yml
DOC=docs/metrics.md
SEVERITIES="critical warning info"
TUNABLES=4                                   # lines marked "# tunable" in the rules
# --------------------------------------------------------------------------------------------

for c in promtool python3; do
	command -v "$c" >/dev/null || { not_ok "$c installed (Debian packages prometheus, python3)"; finish; }
done
python3 -c 'import yaml' 2>/dev/null || { not_ok "python3 can read YAML (Debian package python3-yaml)"; finish; }

out=$(promtool check rules "$RULES" 2>&1)
check_match "promtool check rules $RULES" 'SUCCESS: [0-9]+ rules found' "$out"
nrules=$(sed -n 's/.*SUCCESS: \([0-9]*\) rules found.*/\1/p' <<<"$out")
out=$(promtool test rules "$UNIT" 2>&1)
check "promtool test rules $UNIT: exit 0" "0" "$?"
check_match "promtool test rules: SUCCESS" 'SUCCESS' "$out"
[[ $out == *FAILED* ]] && echo "$out" | sed 's/^/#   /' | head -n 40

# rules_report: one line per alert of $RULES, "NAME|FOR|SEVERITY|SUMMARY|EXPR" (EXPR on one
# line, comments dropped); recording rules would print "-" as their name.
rules_report() {
	python3 - "$RULES" <<'PY'
import re, sys, yaml
for g in yaml.safe_load(open(sys.argv[1]))["groups"]:
    for r in g["rules"]:
        expr = " ".join(re.sub(r"#.*", "", l).strip() for l in r["expr"].splitlines()).strip()
        print("|".join([r.get("alert", "-"), str(r.get("for", "")),
                        str(r.get("labels", {}).get("severity", "")),
                        r.get("annotations", {}).get("summary", "").replace("|", "/"),
                        re.sub(r"\s+", " ", expr)]))
PY
}
# unit_report: one line per alert tested in $UNIT, "NAME FIRING NEGATIVE": how many of its
# evaluations expect alerts, and how many expect none.
unit_report() {
	python3 - "$UNIT" <<'PY'
import sys, yaml
seen = {}
for t in yaml.safe_load(open(sys.argv[1]))["tests"]:
    for a in t.get("alert_rule_test", []):
        f, n = seen.get(a["alertname"], (0, 0))
        seen[a["alertname"]] = (f + 1, n) if a.get("exp_alerts") else (f, n + 1)
for name, (f, n) in sorted(seen.items()):
    print(name, f, n)
PY
}
report=$(rules_report) || { not_ok "$RULES parses as YAML"; finish; }
tested=$(unit_report) || { not_ok "$UNIT parses as YAML"; finish; }
check "every rule is an alert ($nrules rules)" "$nrules" "$(cut -d'|' -f1 <<<"$report" | grep -c '^Deephealth[A-Z][A-Za-z]*$')"

# ---- Each alert: its conventions, its unit tests, its place in the docs. -------------------
while IFS='|' read -r name for sev summary expr; do
	bad=""
	[[ $for =~ ^[0-9]+[smh]$ ]] || bad+="no for: ($for); "
	[[ " $SEVERITIES " == *" $sev "* ]] || bad+="severity [$sev] not one of $SEVERITIES; "
	# shellcheck disable=SC2016 # a Prometheus template, not the shell's
	[[ $summary == *'{{ $labels.region }}'* ]] || bad+="summary does not name the region; "
	[[ $expr =~ by\ \(region[,\)] ]] || bad+="not aggregated by region: [$expr]; "
	check "$name: a for:, a severity, the region in its summary, aggregated by region" "" "$bad"
	read -r _ fire neg < <(grep "^$name " <<<"$tested" || echo "$name 0 0")
	if [ "$fire" -gt 0 ] && [ "$neg" -gt 0 ]; then
		ok "$name: unit cases that fire ($fire) and that must not ($neg)"
	else
		not_ok "$name: unit cases that fire and that must not" "got $fire firing, $neg negative in $UNIT"
	fi
	if grep -q "^| \`$name\` |" "$DOC"; then ok "$name: a row in $DOC's alerts table"
	else not_ok "$name: a row in $DOC's alerts table"; fi
done <<<"$report"
missing=""
while read -r m; do
	grep -q "^| \`${m}[{\`]" "$DOC" || missing+=" $m"
done < <(grep -o 'deephealth_[a-z_]*' "$RULES" | sort -u)
check "every series the rules read is documented in $DOC" "" "$missing"
check "the tunables: $TUNABLES lines marked, each named once in the file's header" "$TUNABLES $TUNABLES" \
	"$(grep -c '# tunable: ' "$RULES") $(grep -o '# tunable: [a-z -]*' "$RULES" | sed 's/# tunable: //; s/ *$//' |
		while read -r t; do grep -c "^#   $t  " "$RULES"; done | grep -c '^1$')"

# ---- The unit tests bite: rules broken on purpose fail them. --------------------------------
mkdir -p "$WORK/prom"
# mutant DESC SED: the rules through SED, in place of the shipped ones; the unit tests must fail.
mutant() {
	sed -e "$2" "$RULES" >"$WORK/prom/rules.yml"
	if cmp -s "$RULES" "$WORK/prom/rules.yml"; then not_ok "mutant: $1" "the sed changed nothing"; return; fi
	sed -e "s#^  - \.\./\.\./$RULES\$#  - rules.yml#" "$UNIT" >"$WORK/prom/unit.yml"
	if promtool test rules "$WORK/prom/unit.yml" >"$WORK/prom/mutant.out" 2>&1; then
		not_ok "mutant: $1: the unit tests fail" "they passed"
	elif grep -q '^ *alertname: Deephealth[A-Za-z]*, time: ' "$WORK/prom/mutant.out"; then
		ok "mutant: $1: the unit tests fail"
	else
		not_ok "mutant: $1: the unit tests fail on an expectation" "$(head -n 3 "$WORK/prom/mutant.out" | tr '\n' ' ')"
	fi
}
mutant "failing over alerted per door (by instance)" 's/max by (region, dependency, kind)/max by (region, instance, dependency, kind)/'
mutant "failing over summed over the doors (count doubled)" 's/max by (region, dependency, kind)/sum by (region, dependency, kind)/'
mutant "fail-open alerted per door" 's/count by (region, reason)/count by (region, instance, reason)/'
mutant "fail-open on passthrough too" 's/and on (instance, job) (deephealth_responder_fail_open == 1)/and on (instance, job) (deephealth_responder_fail_open >= 0)/'
mutant "failover guard alerted per door" 's/count by (region) (deephealth_responder_region_state{reason="guard"} == 1)/count by (region, instance) (deephealth_responder_region_state{reason="guard"} == 1)/'
mutant "every for: dropped" '/^        for: /d'
mutant "unknown hosts counted per door" 's/sum by (region) (rate/max by (region) (rate/'
# shellcheck disable=SC2016 # a Prometheus template, not the shell's
mutant "the unit tests see the shipped file (a summary changed)" 's/registries failing over: {{ $value }}/failing over: {{ $value }}/'
finish
