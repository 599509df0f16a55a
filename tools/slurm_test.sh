#!/usr/bin/env bash
# Testing under slurm (--launcher slurm), mmdet's interface:
#
#   [GPUS=8] [GPUS_PER_NODE=8] bash tools/slurm_test.sh PARTITION JOB_NAME CONFIG CHECKPOINT [test.py args...]
#
# Same environment as tools/slurm_train.sh (CPUS_PER_TASK, SRUN_ARGS, GRES).
set -euo pipefail
exec bash "$(dirname "$0")/launch.sh" slurm "$1" "$2" test.py "$3" "$4" "${@:5}"
