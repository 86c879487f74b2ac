# shellcheck shell=bash
# browser.sh: drive headless Chromium from tests: load a page, let its scripts run, and keep
# the resulting DOM or a screenshot; read the DOM back with dom.py.  Sourced (bash); needs
# Debian's chromium.  Every run is bounded by `timeout 60` and uses a fresh throw-away
# profile, so nothing carries over between runs and nothing can hang a test.
#
# Virtual time: --virtual-time-budget=MS lets the page's timers and fetches run as if MS
# milliseconds had passed, then dumps; Chromium skips idle waits, so a 5000 ms budget usually
# takes well under a second of wall time.

BROWSER_DIR=$(dirname "${BASH_SOURCE[0]}")

# browser_find: set BROWSER to the chromium binary; return 1 if there is none.
browser_find() {
	BROWSER=$(command -v chromium 2>/dev/null) || BROWSER=
	[ -z "$BROWSER" ] && [ -x /usr/bin/chromium ] && BROWSER=/usr/bin/chromium
	[ -n "$BROWSER" ]
}

# browser_require PREFIX: the start of a browser test (lib.sh's ok/not_ok/finish): fails the
# test when chromium is missing; sets BROWSER_LOG and SHOTS ($BUILD/screenshots, with this
# test's old PREFIX-*.png removed).
browser_require() {
	if ! browser_find; then
		not_ok "chromium is installed" "chromium not found: tests/deps.sh installs it (Debian package chromium)"
		finish
	fi
	ok "chromium is installed ($BROWSER)"
	BROWSER_LOG=$WORK/chromium.log
	SHOTS=$BUILD/screenshots
	mkdir -p "$SHOTS"
	rm -f "$SHOTS/$1"-*.png
}

# browser_run ARGS...: chromium headless with ARGS and a temporary profile; its stdout is
# ours, its stderr (D-Bus noise, GPU notes) goes to BROWSER_LOG if set, else nowhere.
browser_run() {
	local prof rc
	[ -n "${BROWSER:-}" ] || browser_find || { echo "browser.sh: chromium not found" >&2; return 127; }
	prof=$(mktemp -d /tmp/dh-chromium.XXXXXX) || return 1
	timeout -k 5 60 "$BROWSER" --headless --no-sandbox --disable-gpu --disable-dev-shm-usage \
		--no-first-run --no-default-browser-check --disable-extensions --mute-audio \
		--user-data-dir="$prof" "$@" </dev/null 2>>"${BROWSER_LOG:-/dev/null}"
	rc=$?
	rm -rf "$prof"
	return $rc
}

# browser_dom URL OUTFILE [BUDGET_MS]: the DOM after the page's scripts ran for BUDGET_MS
# (default 5000) of virtual time, serialized into OUTFILE.  Returns chromium's exit status
# (124 when timeout stopped it).
browser_dom() {
	browser_run --virtual-time-budget="${3:-5000}" --dump-dom "$1" >"$2"
}

# browser_shot URL PNG [WIDTHxHEIGHT]: a screenshot (default 1280x1100) after 5000 ms of
# virtual time.  Non-zero unless a PNG was written.
browser_shot() {
	local size=${3:-1280x1100}
	rm -f "$2"
	browser_run --virtual-time-budget=5000 --hide-scrollbars --window-size="${size/x/,}" \
		--screenshot="$2" "$1" >/dev/null
	[ -s "$2" ] && [ "$(head -c 4 "$2" | tail -c 3)" = PNG ]
}

# dom_text FILE ID: the whitespace-collapsed text of the element with that id.
dom_text() { python3 "$BROWSER_DIR/dom.py" text "$1" "$2"; }
# dom_attr FILE ID ATTR: one attribute of the element with that id.
dom_attr() { python3 "$BROWSER_DIR/dom.py" attr "$1" "$2" "$3"; }
# dom_rows FILE TABLE_ID: "NAME<TAB>cell | cell | ..." per <tr data-name> of the table's tbody.
dom_rows() { python3 "$BROWSER_DIR/dom.py" rows "$1" "$2"; }
# dom_each FILE ID ATTR: "VALUE<TAB>text" per element under ID carrying ATTR.
dom_each() { python3 "$BROWSER_DIR/dom.py" each "$1" "$2" "$3"; }
# dom_query FILE QUERY: the same in one call: "#ID" (text), "#ID@ATTR" (attribute),
# "#ID tr" (rows), "#ID [ATTR]" (each).
dom_query() {
	local q=${2#\#}
	case $q in
	*" tr") dom_rows "$1" "${q% tr}" ;;
	*" ["*"]") local a=${q#* \[}; dom_each "$1" "${q%% *}" "${a%]}" ;;
	*@*) dom_attr "$1" "${q%@*}" "${q#*@}" ;;
	*) dom_text "$1" "$q" ;;
	esac
}
