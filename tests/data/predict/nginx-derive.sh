#!/bin/sh
# nginx-derive.sh: the loopback version of manifests/webapp/nginx.conf, for
# the tests and the benchmark. Only the lines marked "kf-test" change (ports,
# certificate paths, the app's address, pid and temp paths under PREFIX);
# with "bench" the lines marked "kf-bench" lift the per-address limits too,
# since a load generator is one address.
# usage: nginx-derive.sh PREFIX HTTPS_PORT HTTP_PORT APP_ADDR CERT KEY [bench] < nginx.conf > out.conf
set -eu
prefix=$1 https=$2 http=$3 app=$4 cert=$5 key=$6 mode=${7:-}
mkdir -p "$prefix"
sed_bench=""
if [ "$mode" = bench ]; then
	sed_bench='
/# kf-bench: rate/ s/rate=[0-9]*r\/s/rate=1000000r\/s/
/# kf-bench: conn/ s/limit_conn addr [0-9]*/limit_conn addr 60000/
/# kf-bench: api/ s/burst=[0-9]*/burst=100000/
/# kf-bench: page/ s/burst=[0-9]*/burst=100000/'
fi
sed -e "
/# kf-test: pid/ s|^.*$|pid $prefix/nginx.pid;|
/# kf-test: access_log/ s|^.*$|    access_log off;|
/# kf-test: temp/ s|/tmp/nginx/|$prefix/|
/# kf-test: upstream/ s|server [^ ]*|server $app|
/# kf-test: listen_http/ s|listen [^;]*;|listen 127.0.0.1:$http;|
/# kf-test: listen_https/ s|listen [^;]*;|listen 127.0.0.1:$https ssl http2;|
/# kf-test: cert/ s|ssl_certificate [^;]*;|ssl_certificate $cert;|
/# kf-test: key/ s|ssl_certificate_key [^;]*;|ssl_certificate_key $key;|
$sed_bench"
