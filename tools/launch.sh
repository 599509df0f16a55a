#!/usr/bin/env bash
# Shared launcher of dist_{train,test}.sh and slurm_{train,test}.sh (not called directly):
#
#   bash tools/launch.sh torchrun NPROC SCRIPT ARGS...    # torch.distributed.run
#   bash tools/launch.sh slurm PARTITION JOB SCRIPT ARGS... # srun, one task per GPU
#
# torchrun: one process runs SCRIPT's input checks first (--check-only), so bad input is
# one error line and exit status 2, not one per worker; then NNODES, NODE_RANK,
# MASTER_ADDR, PORT. slurm: GPUS, GPUS_PER_NODE,
# CPUS_PER_TASK, SRUN_ARGS, GRES (empty on CPU-only nodes: tasks then use gloo).
# PYTHON defaults to the repo's .venv when it exists. See docs/tools.md.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
if [ -z "${PYTHON:-}" ]; then
    PYTHON=python
    [ -x "$ROOT/.venv/bin/python" ] && PYTHON="$ROOT/.venv/bin/python"
fi
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"

MODE=$1
shift
case "$MODE" in
torchrun)
    NPROC=$1
    SCRIPT=$2
    "$PYTHON" "$ROOT/tools/$SCRIPT" "${@:3}" --check-only
    exec "$PYTHON" -m torch.distributed.run \
        --nnodes="${NNODES:-1}" \
        --node_rank="${NODE_RANK:-0}" \
        --master_addr="${MASTER_ADDR:-127.0.0.1}" \
        --nproc_per_node="$NPROC" \
        --master_port="${PORT:-29500}" \
        "$ROOT/tools/$SCRIPT" "${@:3}" --launcher pytorch
    ;;
slurm)
    PARTITION=$1
    JOB_NAME=$2
    SCRIPT=$3
    GPUS_PER_NODE=${GPUS_PER_NODE:-8}
    GRES=${GRES-gpu:${GPUS_PER_NODE}}
    set -x
    # shellcheck disable=SC2086  # SRUN_ARGS is a list of srun options
    exec srun -p "$PARTITION" \
        --job-name="$JOB_NAME" \
        ${GRES:+--gres="$GRES"} \
        --ntasks="${GPUS:-8}" \
        --ntasks-per-node="$GPUS_PER_NODE" \
        --cpus-per-task="${CPUS_PER_TASK:-5}" \
        --kill-on-bad-exit=1 \
        ${SRUN_ARGS:-} \
        "$PYTHON" -u "$ROOT/tools/$SCRIPT" "${@:4}" --launcher=slurm
    ;;
*)
    echo "error: tools/launch.sh: unknown mode '$MODE' (torchrun or slurm)" >&2
    exit 2
    ;;
esac
