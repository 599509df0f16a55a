#!/usr/bin/env bash
# Distributed training with torchrun, mmdet's interface:
#
#   bash tools/dist_train.sh CONFIG NPROC [tools/train.py args...]
#
# NPROC processes per node: one per GPU, or CPU processes on a machine without one
# (gloo; see docs/tools.md). Multi-node: NNODES, NODE_RANK, MASTER_ADDR, PORT.
set -euo pipefail
exec bash "$(dirname "$0")/launch.sh" torchrun "$2" train.py "$1" "${@:3}"
