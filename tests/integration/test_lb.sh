#!/usr/bin/env bash
# test_lb.sh: deephealthctl lb writes each load balancer's configuration from a regions
# description, a registry map and a host map, and each real load balancer takes it: gdnsd
# checkconf loads its zones, haproxy -c its backends, PowerDNS serves its zones on loopback
# (a single-region registry's plain record, a LUA record's address among its candidates);
# what each record holds (the preferred region first, the custom domain as its own zone);
# a bad input is refused with file:line and nothing written.  The failover scenarios with
# real front doors are the load-balancer suite's (make e2e).
. tests/integration/lib.sh

CTL=$BUILD/deephealthctl
for b in pdns_server gdnsd haproxy dig; do
	command -v "$b" >/dev/null || { not_ok "$b installed (tests/deps.sh)"; finish; }
done
D=$WORK/lb
mkdir -p "$D"
cat >"$D/regions.conf" <<'EOF'
service = { zone = "azurecr.test"; port = 18080; ttl = 20; };
load_balancer = { interval = 2; timeout = 1; fall = 2; rise = 2; };
regions = (
  { name = "westeurope"; addresses = [ "127.0.0.2" ]; },
  { name = "eastus"; addresses = [ "127.0.0.3" ]; },
  { name = "northeurope"; addresses = [ "127.0.0.4", "127.0.0.5", "::1" ]; }
);
EOF
cat >"$D/registries.map" <<'EOF'
# name     regions                         storage  features
contoso    westeurope,eastus               -        -
fabrikam   eastus,westeurope               -        -
northwind  westeurope                      -        -
tailspin   westeurope,northeurope,eastus   -        -
EOF
printf 'registry.contoso.com contoso\n' >"$D/hosts.map"
conf() { # NAME MAP HOSTMAP
	cat >"$D/$1.conf" <<EOF
snapshot = { path = "snapshot"; };
responder = { counters = ""; };
resolver = { host_map = "$3"; rules = ( "^(?<registry>[a-z0-9-]{3,50})\\\\.azurecr\\\\.test\$" ); };
prober = { registries = "$2"; region = "westeurope"; };
EOF
}
conf dh registries.map hosts.map
lb() { "${VG[@]}" "$CTL" -c "$D/${CONF:-dh}.conf" lb "$@"; }

# ---- PowerDNS: the zones, named.conf and pdns.conf's lines; then served on loopback.
out=$(lb pdns -r "$D/regions.conf" -o "$D/pdns" 2>&1); rc=$?
check "pdns: exit 0" 0 "$rc"
check_match "pdns: it says what it wrote" "5 names in 2 zones \\(4 LUA, 1 plain\\)" "$out"
Z=$D/pdns/azurecr.test.zone
check_match "pdns: a registry of two regions: a LUA record, its preferred region's set first" \
	"contoso IN LUA A \"ifurlup\\('http://contoso.azurecr.test:18080/health', \\{\\{'127.0.0.2'\\},\\{'127.0.0.3'\\}\\}, \\{timeout=1\\}\\)\"" "$(cat "$Z")"
check_match "pdns: the map's order is the preference (fabrikam: eastus first)" \
	"fabrikam IN LUA A \"ifurlup\\('http://fabrikam.azurecr.test:18080/health', \\{\\{'127.0.0.3'\\},\\{'127.0.0.2'\\}\\}" "$(cat "$Z")"
check_match "pdns: three regions, a region of two front doors one set; its IPv6 door an AAAA record" \
	"tailspin IN LUA A .*\\{\\{'127.0.0.2'\\},\\{'127.0.0.4','127.0.0.5'\\},\\{'127.0.0.3'\\}\\}.*tailspin IN LUA AAAA .*\\{\\{'::1'\\}\\}" "$(tr '\n' ' ' <"$Z")"
check "pdns: a single-region registry: a plain record" "northwind IN A 127.0.0.2" "$(grep '^northwind' "$Z")"
check_match "pdns: the custom domain, a zone of its own, probed with its own name" \
	"@ IN LUA A \"ifurlup\\('http://registry.contoso.com:18080/health'" "$(cat "$D/pdns/registry.contoso.com.zone")"
check_match "pdns: pdns.conf's lines: LUA records on, the probe interval" \
	"enable-lua-records=yes.*lua-health-checks-interval=2" "$(tr '\n' ' ' <"$D/pdns/pdns.conf")"
P=$(free_port)
mkdir -p "$D/pdns-run"
{ grep -v '^#' "$D/pdns/pdns.conf"
  printf 'local-address=127.0.0.1\nlocal-port=%s\nsocket-dir=%s\ndaemon=no\nguardian=no\n' "$P" "$D/pdns-run"
  printf 'disable-syslog=yes\nprimary=no\nsecondary=no\nsecurity-poll-suffix=\nwebserver=no\napi=no\n'
} >"$D/pdns-run/pdns.conf"
pdns_server --config-dir="$D/pdns-run" >"$D/pdns-run/log" 2>&1 &
PIDS+=($!)
for _ in $(seq 50); do dig +short +time=1 +tries=1 @127.0.0.1 -p "$P" northwind.azurecr.test A >/dev/null 2>&1 && break; sleep 0.1; done
check "pdns serves the single-region record" "127.0.0.2" "$(dig +short +time=2 +tries=2 @127.0.0.1 -p "$P" northwind.azurecr.test A)"
check_match "pdns answers a LUA record with one of its candidates" "^127\\.0\\.0\\.[23]$" \
	"$(dig +short +time=2 +tries=2 @127.0.0.1 -p "$P" contoso.azurecr.test A)"
check_match "pdns answers the custom domain's zone" "^127\\.0\\.0\\.[23]$" \
	"$(dig +short +time=2 +tries=2 @127.0.0.1 -p "$P" registry.contoso.com A)"
kill "$(jobs -p | tail -n 1)" 2>/dev/null

# ---- gdnsd: service types, plugins and zones; gdnsd's own check loads them.
out=$(lb gdnsd -r "$D/regions.conf" -o "$D/gdnsd" 2>&1); rc=$?
check "gdnsd: exit 0" 0 "$rc"
C=$D/gdnsd/config.deephealth
check_match "gdnsd: a service type per name, its vhost the name, the timing asked" \
	"dh_contoso_azurecr_test => \\{ plugin => http_status, port => 18080, url_path => \"/health\", +vhost => contoso.azurecr.test, ok_codes => \\[ 200 \\], interval => 2, timeout => 1, +up_thresh => 2, ok_thresh => 2, down_thresh => 2 \\}" "$(tr '\n' ' ' <"$C")"
check_match "gdnsd: two regions of one door each: simplefo, preferred region primary" \
	"dh_fabrikam_azurecr_test => \\{ service_types => dh_fabrikam_azurecr_test, primary => 127.0.0.3, secondary => 127.0.0.2 \\}" "$(cat "$C")"
check_match "gdnsd: more regions or doors: metafo, its datacenters in preference order" \
	"dh_tailspin_azurecr_test => \\{ +datacenters => \\[ westeurope northeurope eastus \\]" "$(tr '\n' ' ' <"$C")"
check "gdnsd: a single-region registry: a plain record" "northwind 20 A 127.0.0.2" "$(grep '^northwind' "$D/gdnsd/zones/azurecr.test")"
G=$D/gdnsd-run
mkdir -p "$G/zones" "$G/run" "$G/state"
printf 'options => {\n  listen => [ 127.0.0.1 ]\n  dns_port => %s\n  run_dir => %s/run\n  state_dir => %s/state\n}\n' "$(free_port)" "$G" "$G" >"$G/options"
cat "$G/options" "$C" >"$G/config"
cp "$D"/gdnsd/zones/* "$G/zones/"
out=$(gdnsd -c "$G" checkconf 2>&1); rc=$?
check "gdnsd checkconf takes it" 0 "$rc"
check_match "gdnsd loads both zones" "Loaded 2 zonefiles" "$out"

# Only simplefo resources (no metafo), and only plain records: gdnsd refuses an empty block.
printf 'contoso westeurope,eastus - -\n' >"$D/two.map"
printf 'northwind westeurope - -\n' >"$D/one.map"
: >"$D/no-hosts.map"
for m in two one; do
	conf "$m" "$m.map" no-hosts.map
	CONF=$m lb gdnsd -r "$D/regions.conf" -o "$D/gdnsd-$m" >/dev/null 2>&1
	cat "$G/options" "$D/gdnsd-$m/config.deephealth" >"$G/config"
	rm -f "$G"/zones/*
	cp "$D"/gdnsd-"$m"/zones/* "$G/zones/"
	check "gdnsd checkconf takes a configuration with $m-region names only" 0 \
		"$(gdnsd -c "$G" checkconf >/dev/null 2>&1; echo $?)"
done

# ---- HAProxy: a backend per name and the Host map; haproxy -c takes it.
out=$(lb haproxy -r "$D/regions.conf" -o "$D/haproxy" 2>&1); rc=$?
check "haproxy: exit 0" 0 "$rc"
H=$D/haproxy/haproxy.cfg
check_match "haproxy: the check with the name as Host, only 200 passes, the timing asked" \
	"backend dh_contoso_azurecr_test +option httpchk +http-check send meth GET uri /health ver HTTP/1.1 hdr Host contoso.azurecr.test +http-check expect status 200 +timeout check 1s +default-server inter 2s fall 2 rise 2 +server westeurope_1 127.0.0.2:18080 check +server eastus_1 127.0.0.3:18080 check backup" \
	"$(tr '\n' ' ' <"$H")"
check_match "haproxy: a single-region registry's server unchecked" \
	"backend dh_northwind_azurecr_test +server westeurope_1 127.0.0.2:18080 " "$(tr '\n' ' ' <"$H")"
check_match "haproxy: an IPv6 door in brackets" "server northeurope_3 \\[::1\\]:18080 check backup" "$(cat "$H")"
check "haproxy: the Host map" "contoso.azurecr.test dh_contoso_azurecr_test registry.contoso.com dh_registry_contoso_com" \
	"$(grep -E '^(contoso|registry)' "$D/haproxy/hosts.map" | xargs)"
printf 'global\n    nbthread 1\ndefaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\nfrontend fe\n    bind 127.0.0.1:%s\n    use_backend %%[req.hdr(host),field(1,:),lower,map(%s/haproxy/hosts.map)]\n' \
	"$(free_port)" "$D" >"$D/base.cfg"
out=$(haproxy -c -f "$D/base.cfg" -f "$H" 2>&1); rc=$?
check "haproxy -c takes it" "0" "$rc"

# ---- Bad input: every error with file:line, nothing written.
cp "$D/registries.map" "$D/bad.map"
printf 'mars-reg westeurope,mars - -\ncontoso eastus - -\nshort line\n' >>"$D/bad.map"
printf 'registry.contoso.com contoso\nshop.example.com nosuch\n' >"$D/bad-hosts.map"
conf bad bad.map bad-hosts.map
out=$(CONF=bad lb pdns -r "$D/regions.conf" -o "$D/never" 2>&1); rc=$?
check "bad map: exit 1, nothing written" "1 no" "$rc $([ -e "$D/never" ] && echo yes || echo no)"
check "bad map: each error, file:line, in line order" \
	"$D/bad.map:6: registry mars-reg: region \"mars\" is not in $D/regions.conf|$D/bad.map:7: duplicate registry \"contoso\" (first at line 2)|$D/bad.map:8: expected \"name regions storage features\" (4 fields, - for none)|$D/bad-hosts.map:2: shop.example.com maps to registry nosuch, which the registry map $D/bad.map does not list|deephealthctl: lb: nothing written: the errors above first" \
	"$(paste -sd'|' <<<"$out")"
printf 'service = { zone = "Azure"; };\nregions = ( );\n' >"$D/bad.regions"
out=$(lb haproxy -r "$D/bad.regions" -o "$D/never" 2>&1); rc=$?
check_match "bad regions file: exit 1, its errors file:line" "^1 $D/bad.regions:2: regions: a list" "$rc $out"
check "no kind: usage error" "2" "$(lb -o x >/dev/null 2>&1; echo $?)"
check "no -o: usage error, one line" "2 deephealthctl: lb: -o DIR is required: where the files are written (see deephealthctl -h)" \
	"$(out=$(lb pdns 2>&1); echo "$? $out")"
finish
