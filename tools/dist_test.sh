#!/usr/bin/env bash
# Distributed testing with torchrun, mmdet's interface:
#
#   bash tools/dist_test.sh CONFIG CHECKPOINT NPROC [tools/test.py args...]
#
# Same environment as tools/dist_train.sh (NNODES, NODE_RANK, MASTER_ADDR, PORT).
set -euo pipefail
exec bash "$(dirname "$0")/launch.sh" torchrun "$3" test.py "$1" "$2" "${@:4}"
