#!/bin/sh
# setup.sh: install the Debian packages kfboot needs to build and test.
# Idempotent: installs only what is missing. As root it runs apt-get; as
# anyone else it prints the exact command to run and exits 1.
set -eu

PKGS="cmake pkg-config gcc clang make libgit2-dev libcurl4-openssl-dev libyaml-dev
libssh2-1-dev libjansson-dev libssl-dev libcmocka-dev libmicrohttpd-dev
libclang-rt-14-dev openssh-server openssh-client git shellcheck ansible-core
sudo valgrind python3-yaml python3-jsonschema iproute2 iptables ca-certificates jq curl openssl
xxd groff-base procps util-linux man-db zlib1g-dev
nginx chromium fonts-dejavu-core nghttp2-client wrk prometheus python3-flask
gunicorn python3-numpy python3-matplotlib bc xz-utils"

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done

if [ -z "$missing" ]; then
	echo "setup: all packages present"
	exit 0
fi

if [ "$(id -u)" != 0 ]; then
	echo "setup: missing packages:$missing" >&2
	echo "setup: run as root: apt-get update && apt-get install -y --no-install-recommends$missing" >&2
	exit 1
fi

echo "setup: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
# Another apt or dpkg process (a fresh machine's own updates, say) may hold
# the locks: wait for them, bounded, as the node scripts do, instead of
# failing at once. KF_APT_LOCK_TIMEOUT seconds (default 600).
lock_timeout=${KF_APT_LOCK_TIMEOUT:-600}
apt_get() {
	apt-get -o DPkg::Lock::Timeout="$lock_timeout" "$@"
}
if ! apt_get update -qq; then
	echo "setup: apt-get update failed (waited up to ${lock_timeout}s for apt's locks)" >&2
	exit 1
fi
# shellcheck disable=SC2086
if ! apt_get install -y -qq --no-install-recommends $missing >/dev/null; then
	echo "setup: apt-get install failed (waited up to ${lock_timeout}s for dpkg's lock)" >&2
	exit 1
fi
echo "setup: done"
