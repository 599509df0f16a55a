"""FLOPs of a forward pass, counted as 1 FLOP per multiply-add.

That is the convention of mmengine's ``FlopAnalyzer`` (and of mmcv's
``get_model_complexity_info`` before it); PyTorch's ``FlopCounterMode`` counts 2 per
multiply-add, so its totals are halved here.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn


def count_flops(
    model: nn.Module, inputs: tuple, forward: Callable | None = None, trace: bool = True
) -> tuple[int, str]:
    """FLOPs of ``forward(*inputs)`` (default ``model(*inputs)``) and the counter's name.

    With ``trace``, mmengine's ``FlopAnalyzer`` (``torch.jit`` trace of ``model`` with
    ``forward`` as its forward; also counts norms and resizes, but no
    ``scaled_dot_product_attention``). Without ``trace`` or where tracing fails,
    ``FlopCounterMode`` (convolutions, matrix products, attention), the name then saying
    why FlopAnalyzer failed.
    """
    from mmengine.analysis import FlopAnalyzer
    from torch.utils.flop_counter import FlopCounterMode

    forward, method = forward or model.forward, "FlopCounterMode"
    if trace:
        model.forward = forward
        try:
            with torch.no_grad():
                analyzer = FlopAnalyzer(model, inputs)
                analyzer.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
                return int(analyzer.total()), "mmengine FlopAnalyzer"
        except Exception as exc:  # any tracing failure selects the fallback
            first = str(exc).splitlines()[0] if str(exc) else ""
            method += f" (FlopAnalyzer failed: {type(exc).__name__}: {first})"
        finally:
            del model.forward  # back to the class's forward
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        forward(*inputs)
    return counter.get_total_flops() // 2, method
