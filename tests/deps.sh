#!/bin/sh
# deps.sh: install the Debian packages deephealth builds and tests with, if any is missing.
set -eu
PKGS="build-essential pkg-config libfcgi-dev libfcgi-bin socat libcurl4-openssl-dev libconfig-dev libpcre2-dev libjansson-dev
      lighttpd lighttpd-mod-deflate apache2 libapache2-mod-fcgid redis-server monitoring-plugins-basic
      monitoring-plugins-standard curl valgrind procps wrk time nginx python3 adduser systemd mandoc
      lintian debhelper dpkg-dev fakeroot blhc cppcheck
      prometheus prometheus-node-exporter prometheus-alertmanager python3-yaml chromium fonts-dejavu-core faketime
      clang libclang-rt-14-dev logrotate
      pdns-server pdns-backend-bind gdnsd haproxy bind9-dnsutils"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "deps: missing Debian packages:$missing (run as root, or install them)" >&2
	exit 1
fi
echo "deps: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# policy-rc.d keeps the packages' own services (apache2, lighttpd, nginx, prometheus,
# prometheus-node-exporter, prometheus-alertmanager) from starting.
if [ ! -e /usr/sbin/policy-rc.d ]; then
	printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
	chmod 755 /usr/sbin/policy-rc.d
	trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
apt-get install -y -qq --no-install-recommends $missing >/dev/null
