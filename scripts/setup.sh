#!/bin/sh
# setup.sh: install the Debian packages kfboot needs to build and test.
# Idempotent: installs only what is missing. As root it runs apt-get; as
# anyone else it prints the exact command to run and exits 1.
set -eu

PKGS="cmake pkg-config gcc clang make libgit2-dev libcurl4-openssl-dev libyaml-dev
libssh2-1-dev libjansson-dev libssl-dev libcmocka-dev libmicrohttpd-dev
libclang-rt-14-dev openssh-server openssh-client git shellcheck ansible-core
sudo valgrind python3-yaml iproute2 iptables ca-certificates jq curl openssl
xxd groff-base procps util-linux zlib1g-dev"

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
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
echo "setup: done"
