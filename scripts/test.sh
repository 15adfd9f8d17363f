#!/bin/sh
# test.sh: set up, build, and run every test (unit and integration; not the
# benchmarks). Integration tests start real sshd nodes in network
# namespaces and need root; as non-root they report SKIP.
set -eu
cd "$(dirname "$0")/.."
./scripts/setup.sh
./scripts/build.sh
cd build
ctest --output-on-failure -LE 'bench|slow' -j"${KF_TEST_JOBS:-2}" --timeout 900
