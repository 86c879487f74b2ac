# shellcheck shell=bash
# runbook.sh: the operator's runbook (docs/operations.md) run for real inside an end-to-end
# suite (alerts.sh): each command and its output appended to a transcript, which the page's
# outputs are taken from.  Sourced by the suite once its regions run; needs WORK, BUILD, the
# suite's notes (the webhook's record) and lib.sh's check helpers.
#
#   rb_alert PATTERN           the notification matching PATTERN, as the receiver got it
#   rb DESCRIPTION ARGS...     deephealthctl ARGS as an operator on a westeurope front door
#                              runs it (-c that door's configuration), into the transcript;
#                              it must exit RB_RC (default 0)
#   rb_note TEXT               a line of the operator's reasoning, into the transcript
#   rb_last                    the output of the last rb
#   rb_check_doc PAGE          every "$ deephealthctl ..." line of PAGE is a command this run ran
#
# In the transcript, $WORK/ is shown as /srv/e2e/ and the regions description as
# /etc/deephealth/regions.conf (what an operator would type); nothing else is changed.

RB_OUT=$BUILD/runbook.txt
RB_LAST=$WORK/runbook.last
: >"$RB_OUT"

# _rb_show TEXT...: the transcript's spelling of a command or an output.
_rb_show() { sed -e "s#$REGIONS#/etc/deephealth/regions.conf#g" -e "s#$WORK/#/srv/e2e/#g"; }

rb_alert() {
	{
		echo "### the alert"
		python3 - "$HOOK" "$1" <<'PY'
import json, re, sys
for line in open(sys.argv[1]):
    for a in json.loads(line)["body"]["alerts"]:
        l, n = a["labels"], a.get("annotations", {})
        key = "%s %s %s %s|" % (a["status"], l.get("alertname"), l.get("region"),
                                l.get("dependency") or l.get("reason") or "-")
        if re.search(sys.argv[2], key):
            print("[%s] %s {%s}" % (a["status"].upper(), l["alertname"],
                  ", ".join("%s=%s" % (k, v) for k, v in sorted(l.items()) if k != "alertname")))
            for k in ("summary", "description"):
                print("  %s: %s" % (k, n.get(k, "")))
            sys.exit(0)
PY
		echo
	} >>"$RB_OUT"
}

rb() {
	local what=$1 rc; shift
	"$BUILD/deephealthctl" -c "$WORK/A/dh.conf" "$@" >"$RB_LAST" 2>&1
	rc=$?
	{
		echo "### $what"
		printf '$ deephealthctl%s\n' "$(_rb_args "$@")" | _rb_show
		_rb_show <"$RB_LAST"
		[ "$rc" -ne 0 ] && echo "(exit $rc)"
		echo
	} >>"$RB_OUT"
	check "runbook: deephealthctl $1 ... exits ${RB_RC:-0}" "${RB_RC:-0}" "$rc"
}

# _rb_args ARGS...: the arguments as an operator types them: quoted only when they need it.
_rb_args() {
	local a
	for a in "$@"; do
		if [[ $a =~ ^[A-Za-z0-9_./:=@%+,-]+$ ]]; then printf ' %s' "$a"; else printf ' "%s"' "${a//\"/\\\"}"; fi
	done
}

rb_note() { printf '### note\n%s\n\n' "$1" >>"$RB_OUT"; }
rb_last() { cat "$RB_LAST"; }

rb_check_doc() {
	local missing
	missing=$(grep -E '^\$ deephealthctl' "$1" | sort -u | comm -23 - <(grep -E '^\$ deephealthctl' "$RB_OUT" | sort -u))
	check "$1: every command it shows is one this run ran (the transcript: $RB_OUT)" "" "$missing"
}
