#!/usr/bin/env bash
# Training under slurm (srun starts one task per GPU; --launcher slurm), mmdet's interface:
#
#   [GPUS=8] [GPUS_PER_NODE=8] bash tools/slurm_train.sh PARTITION JOB_NAME CONFIG WORK_DIR [train.py args...]
#
# CPUS_PER_TASK (5) and SRUN_ARGS pass through to srun. On CPU-only nodes set
# GRES= (empty): the tasks then train with gloo (see docs/tools.md).
set -euo pipefail
exec bash "$(dirname "$0")/launch.sh" slurm "$1" "$2" train.py "$3" --work-dir="$4" "${@:5}"
