#!/usr/bin/env bash
# ctest-label: slow
# test_inventory_scale_real.sh: test_inventory_scale.sh against a genuine
# kube-apiserver and etcd (realk8s); exits 77 (skipped) when realk8s is
# absent.
set -euo pipefail
: "${KF_SOURCE_DIR:?}"
KF_INVENTORY_SERVER=real exec bash "$KF_SOURCE_DIR/tests/integration/test_inventory_scale.sh"
