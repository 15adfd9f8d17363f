#!/usr/bin/env bash
# test_kfpsim.sh - the KFP simulator's own checks (tests/kfpsim/selftest.py):
# schema validation against the repository's copy of the KFP OpenAPI file,
# upload errors and 409s, filters, paging, the run clock, recurring runs,
# faults and the run log.
set -euo pipefail
: "${KF_SOURCE_DIR:?}"
/usr/bin/python3 -c 'import jsonschema, yaml' 2>/dev/null || {
	echo "skip: /usr/bin/python3 lacks jsonschema or yaml (scripts/setup.sh)"; exit 77; }
api=${KF_DATA_DIR:-$KF_SOURCE_DIR/tests/data/upstream}/kfp-api/kfp_api_single_file.swagger.json
exec /usr/bin/python3 "$KF_SOURCE_DIR/tests/kfpsim/selftest.py" "$api"
