"""Check that mmcv's compiled ops work: ``nms`` and ``RoIAlign`` (CPU; ``--cuda``: CUDA).

    python tools/check_mmcv_ops.py [--cuda]

Run by ``tools/setup_env.sh`` (``make venv``) after a CUDA build of mmcv and by
``tools/gpu_check.sh`` after its build. On CUDA both ops run on CUDA tensors and are
compared with known answers (``nms``) and with mmcv's own CPU op (``RoIAlign``).
Exit status 0 when they work; otherwise one ``error:`` line and status 1.
"""

from __future__ import annotations

import argparse
import sys


def check(device: str) -> str:
    """Run both ops on ``device``; return a one-line summary or raise with the reason."""
    import torch
    from mmcv.ops import RoIAlign, get_compiling_cuda_version, nms

    if device == "cuda":
        if get_compiling_cuda_version() == "not available":
            raise RuntimeError("mmcv._ext was compiled without CUDA (build it with FORCE_CUDA=1)")
        if not torch.cuda.is_available():
            raise RuntimeError(f"torch {torch.__version__} sees no CUDA device")
    boxes = torch.tensor(
        [[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60]], dtype=torch.float32, device=device
    )
    scores = torch.tensor([0.9, 0.8, 0.7], device=device)
    _, keep = nms(boxes, scores, iou_threshold=0.5)
    if keep.device.type != device or keep.tolist() != [0, 2]:
        raise RuntimeError(f"nms on {device} kept {keep.tolist()}, expected [0, 2]")
    features = torch.arange(2 * 8 * 8, dtype=torch.float32).view(1, 2, 8, 8)
    rois = torch.tensor([[0, 0.5, 1.0, 6.5, 7.0], [0, 2.0, 2.0, 4.0, 5.0]])
    align = RoIAlign((3, 3), spatial_scale=1.0, sampling_ratio=2, aligned=True)
    reference = align(features, rois)
    out = align(features.to(device), rois.to(device))
    if out.device.type != device or not torch.allclose(out.cpu(), reference, atol=1e-5):
        raise RuntimeError(f"RoIAlign on {device} differs from mmcv's CPU result")
    cuda = get_compiling_cuda_version()
    return f"mmcv nms and RoIAlign work on {device} (mmcv._ext compiled with CUDA: {cuda})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cuda", action="store_true", help="check the CUDA kernels")
    args = parser.parse_args(argv)
    device = "cuda" if args.cuda else "cpu"
    try:
        print(f"[check] {check(device)}")
    except Exception as exc:  # noqa: BLE001  (any failure is reported as one line)
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        print(f"error: mmcv's compiled ops do not work on {device}: {reason}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
