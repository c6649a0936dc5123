#!/usr/bin/env bash
# The main job: build libreferral and run finance's monthly settlement
# example on an embedded SQLite file, printing the statements.
#   ./scripts/example.sh [OUTPUT_DIR]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/deps.sh"
cmake -S "$root" -B "$root/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$root/build" --target referral_cli -j"$(nproc)" >/dev/null
REFERRAL_CLI="$root/build/referral" exec "$root/examples/monthly_settlement/run.sh" "$@"
