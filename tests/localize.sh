# localize.sh: rewrite the shipped web-server snippets for a local run (demo, tests).
# localize_conf FILE FCGI_CMD CONF SOCKET: print FILE with the install paths replaced.
localize_conf() {
	sed -e "s#/usr/local/lib/deephealth/deephealth.fcgi -c /etc/deephealth/deephealth.conf#$2 -c $3#" \
	    -e "s#/run/lighttpd/deephealth.sock#$4#" "$1"
}
