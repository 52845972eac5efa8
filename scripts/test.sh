#!/usr/bin/env bash
# The README's test command: installs what is missing, builds hark with
# ASan+UBSan and runs every test (unit, data cases, check messages, e2e
# against the replay server and the Kafka mock cluster, verified by kcat).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bash "$root/scripts/setup.sh"
export BUILD_DIR=${BUILD_DIR:-$root/build-asan}
BUILD_TYPE=Debug bash "$root/scripts/build.sh" -DHARK_SANITIZE=address,undefined
export HARK_SANITIZED=1
cd "$BUILD_DIR"
ctest -j2 --output-on-failure --timeout 900 "$@"
