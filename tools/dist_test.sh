#!/usr/bin/env bash
# Distributed testing with torchrun, mmdet's interface:
#
#   bash tools/dist_test.sh CONFIG CHECKPOINT NPROC [tools/test.py args...]
#
# Same environment as tools/dist_train.sh (NNODES, NODE_RANK, MASTER_ADDR, PORT).
set -euo pipefail
CONFIG=$1
if [ ! -f "$CONFIG" ]; then
    echo "error: config file '$CONFIG' not found; pass the path of a .py config" >&2
    exit 2
fi
exec bash "$(dirname "$0")/launch.sh" torchrun "$3" test.py "$CONFIG" "$2" "${@:4}"
