"""tools/benchmark.py, tools/benchmark_rows.py and their logic (mmdet_evonorm.analysis.benchmark).

The tools run in-process on a row config shrunk by ``shrink_for_cpu`` at a 64 px
input; no figure is checked against a speed target, only what is printed and how
it is computed.
"""

from __future__ import annotations

import re
import statistics
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from torch import nn

from mmdet_evonorm.analysis.benchmark import (
    BenchmarkInput,
    StepTime,
    benchmark_model_cfg,
    count_flops,
    median_ratio,
    peak_allocated,
    scale_roi_counts,
    time_interleaved,
)
from mmdet_evonorm.testing import build_detector, load_script, shrink_for_cpu

REPO = Path(__file__).resolve().parents[2]
C4 = REPO / "configs/mask_rcnn_fpn3_sephv2_evonorm_cosine.py"
FIELDS = (
    "config",
    "machine",
    "device",
    "input",
    "params",
    "flops",
    "train step",
    "inference",
    "detections per image",
    "peak memory train step",
    "peak memory inference",
)


def load_tool(name: str):
    return load_script(REPO / "tools" / f"{name}.py")


@pytest.fixture(scope="module")
def tiny_c4(tmp_path_factory):
    """Row C4 with an R18 backbone and width 32 (``shrink_for_cpu``), as a config file."""
    cfg = Config.fromfile(str(C4))
    cfg.model = shrink_for_cpu(cfg.model, width=32)
    path = tmp_path_factory.mktemp("bench") / "c4_tiny.py"
    cfg.dump(str(path))
    return path


def run_benchmark(capsys, *args) -> dict[str, str]:
    torch.manual_seed(0)
    assert load_tool("benchmark").main([*map(str, args)]) == 0
    out = capsys.readouterr().out
    summary = out.split("###")[0].strip().splitlines()
    fields = dict(line.split(": ", 1) for line in summary)
    return fields, out


def number(text: str) -> float:
    return float(re.match(r"[\d.]+", text).group())


def test_benchmark_prints_every_field(tiny_c4, capsys):
    args = (tiny_c4, "--input", "64x96", "--flops-input", "64x64", "--batch", "1", "--warmup", "0")
    fields, out = run_benchmark(capsys, *args, "--iters", "1", "--profile")
    assert set(FIELDS) <= set(fields)
    model = build_detector(Config.fromfile(str(tiny_c4)).model)
    assert fields["params"] == f"{sum(p.numel() for p in model.parameters()) / 1e6:.2f} M"
    assert number(fields["flops"]) > 0 and "per 64x64 image" in fields["flops"]
    assert "FlopAnalyzer" in fields["flops"] or "FlopCounterMode" in fields["flops"]
    assert fields["device"] == "cpu"
    assert number(fields["train step"]) > 0 and number(fields["inference"]) > 0
    assert number(fields["peak memory train step"]) > 0
    # 64x96 px is 1/73.7 of the recipe's 576x768: 1000 proposals -> 14, 100 detections -> 1.
    assert "1000 -> 14" in fields["input"] and "100 -> 1)" in fields["input"]
    assert fields["detections per image"] == "1.0"  # score_thr 0 keeps max_per_img
    for step in ("train", "infer"):
        table = out.split(f"### torch.profiler: {step}")[1]
        assert "`module:backbone`" in table and "`norm:EvoNormS0`" in table


@pytest.mark.parametrize(
    "args, message",
    [
        (["missing.py"], "missing.py: no such config file"),
        ([str(C4), "--amp"], "--amp needs --device cuda"),
        ([str(C4), "--input", "64"], "expected HxW"),
        ([str(C4), "--roi-scale", "2"], "--roi-scale must be in (0, 1]"),
    ],
)
def test_benchmark_rejects_bad_input(args, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        load_tool("benchmark").main(args)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_rows_rejects_unknown_rows(capsys):
    with pytest.raises(SystemExit):
        load_tool("benchmark_rows").parse_args(["--rows", "B1", "Z9"])
    assert "unknown row 'Z9'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        load_tool("benchmark_rows").parse_args(["--rows", "C4"])
    assert "must include the baseline B1" in capsys.readouterr().err


def test_scale_roi_counts_scales_every_per_image_count():
    model = Config.fromfile(str(REPO / "configs/mask_rcnn_c3_res5_anchor120.py")).model
    scaled = scale_roi_counts(model, 0.25)
    assert (scaled.train_cfg.rpn_proposal.nms_pre, scaled.train_cfg.rpn_proposal.max_per_img) == (
        1500,
        250,
    )
    assert (scaled.test_cfg.rpn.nms_pre, scaled.test_cfg.rpn.max_per_img) == (750, 128)
    assert scaled.train_cfg.rcnn.sampler.num == 32 and scaled.test_cfg.rcnn.max_per_img == 25
    assert scaled.train_cfg.rpn.sampler.num == 256  # anchors: not a RoI count
    assert model.test_cfg.rpn.max_per_img == 512  # the input is left as it was
    assert BenchmarkInput(288, 384).resolved_roi_scale == 0.25
    assert BenchmarkInput(800, 1333).resolved_roi_scale == 1.0
    full = benchmark_model_cfg(model, BenchmarkInput(800, 1333))
    assert full.test_cfg.rpn.max_per_img == 512 and full.test_cfg.rcnn.score_thr == 0.0
    kept = benchmark_model_cfg(model, BenchmarkInput(800, 1333, score_thr=None))
    assert kept.test_cfg.rcnn.score_thr == 0.3


def test_peak_allocated_counts_live_tensors_on_cpu():
    def two_live_tensors():
        a = torch.ones(2**20)  # 4 MiB
        b = a * 2  # 4 MiB more while a is alive
        return float(b[0])

    peak = peak_allocated(two_live_tensors, torch.device("cpu"))
    assert 8 * 2**20 <= peak < 9 * 2**20


class _ConvDetector(nn.Module):
    """A conv with mmdet's ``forward(inputs, data_samples, mode)``; may refuse tracing."""

    def __init__(self, traceable: bool) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.traceable = traceable

    def forward(self, inputs, data_samples=None, mode="tensor"):
        if torch.jit.is_tracing() and not self.traceable:
            raise RuntimeError("cannot trace")
        return self.conv(inputs)


@pytest.mark.parametrize("traceable", [True, False])
def test_count_flops_is_one_per_multiply_add_with_either_counter(traceable):
    flops, method = count_flops(_ConvDetector(traceable), torch.randn(1, 3, 16, 16), [])
    assert flops == 8 * 3 * 9 * 16 * 16
    expected = "mmengine FlopAnalyzer" if traceable else "FlopCounterMode (FlopAnalyzer failed:"
    assert method.startswith(expected)
    if not traceable:
        assert "RuntimeError: cannot trace" in method


class _FakeBench:
    def __init__(self, name: str, log: list, seconds: float) -> None:
        self.name, self.log, self.seconds = name, log, seconds

    def train_step(self) -> StepTime:
        self.log.append(self.name)
        return StepTime(self.seconds, self.seconds / 2)

    def infer_step(self) -> StepTime:
        return StepTime(self.seconds / 10, self.seconds / 20)


def test_time_interleaved_takes_turns_and_drops_warmup():
    log = []
    benches = {n: _FakeBench(n, log, s) for n, s in (("a", 1.0), ("b", 2.0), ("c", 3.0))}
    times = time_interleaved(benches, warmup=1, rounds=2)
    assert log == ["a", "b", "c", "b", "c", "a", "c", "a", "b"]
    expected = {
        "train": [2.0] * 2,
        "infer": [0.2] * 2,
        "train_cpu": [1.0] * 2,
        "infer_cpu": [0.1] * 2,
    }
    assert times["b"] == expected
    assert median_ratio([2.0, 9.0, 3.0], [1.0, 3.0, 3.0]) == statistics.median([2.0, 3.0, 1.0])


def _result(train: list[float], infer: list[float], flops: float) -> dict:
    """Fake results whose CPU times are half the wall times."""
    return dict(
        params=1e6,
        flops=flops,
        flops_method="x",
        mem_train=2**20,
        mem_infer=2**20,
        detections=5.0,
        train=train,
        infer=infer,
        train_cpu=[t / 2 for t in train],
        infer_cpu=[t / 2 for t in infer],
    )


def test_rows_report_ratios_twins_and_targets(tmp_path):
    rows = load_tool("benchmark_rows")
    results = {
        "B1": _result([1.0, 2.0, 1.0], [1.0, 1.0, 2.0], 10e9),
        "C3": _result([1.1, 2.2, 1.1], [2.0, 2.0, 4.0], 20e9),
        "C4": _result([1.2, 2.4, 1.2], [2.4, 2.4, 4.8], 22e9),
    }
    owner = {"B1": "B1", "B1-cosine": "B1", "C3": "C3", "C4": "C4"}
    table = rows.rows_table(results, owner, num_images=2)
    assert "| B1-cosine (model of B1) |" in table
    c4 = next(line for line in table.splitlines() if line.startswith("| C4 |"))
    # train CPU 600 ms (1.20x B1), wall 1200 ms (1.67 images/s); inference CPU 600 ms /
    # image (2.40x B1), wall 1200 ms
    assert "| 600 | 1.20 | 1200 | 1.20 | 1.67 | 600 | 2.40 | 1200 | 2.40 |" in c4
    targets = rows.targets_table(results, owner)
    assert "| C4 train step ≤ 1.15× C3 | 1.09× | 1.09× | 1.10× | yes |" in targets
    assert "| C4 inference ≤ 1.20× B1 | 2.40× | 2.40× | 2.20× | **no** |" in targets
    assert "C2" not in targets  # rows not run are left out
    results["C4"]["infer_cpu"] = [0.5, 0.5, 1.0]  # 1.00x B1 in CPU time, 2.40x in wall time
    assert "| 1.00× | 2.40× | 2.20× | yes |" in rows.targets_table(results, owner, "CPU")
    assert "| 1.00× | 2.40× | 2.20× | **no** |" in rows.targets_table(results, owner, "wall")
    out = tmp_path / "report.md"
    out.write_text(f"old figures\n{rows.FINDINGS_MARK}\nhand-written findings\n")
    rows.write(str(out), "new figures\n")
    assert out.read_text() == f"new figures\n\n{rows.FINDINGS_MARK}\nhand-written findings\n"


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_benchmark_on_cuda_with_amp(tiny_c4, capsys):
    args = (tiny_c4, "--device", "cuda", "--amp", "--input", "64x96", "--flops-input", "64x64")
    fields, _ = run_benchmark(capsys, *args, "--iters", "2")
    assert fields["device"] == "cuda + AMP (float16)"
    assert number(fields["peak memory train step"]) > 0
    assert number(fields["train step"]) > 0


@pytest.fixture
def trained_rows(tiny_config, tmp_path):
    """``{row: (checkpoint, config)}`` of two tiny models in their own folders, as an
    ablation leaves them: B1 with mmdet's 2-FC box head, C4 with the sephv2 head.
    Random weights; the score threshold 0.3 lets only part of the RoIs through."""
    heads = {
        "B1": {},
        "C4": {"model.roi_head.bbox_head.type": "SepHV2BBoxHead"},
    }
    rows = {}
    for row, head in heads.items():
        (tmp_path / row).mkdir()
        config = tiny_config(f"{row}/{row}.py", **{"model.test_cfg.rcnn.score_thr": 0.3}, **head)
        torch.manual_seed(0)
        model = build_detector(Config.fromfile(str(config)).model)
        model.init_weights()
        checkpoint = tmp_path / row / "iter_3.pth"
        torch.save({"state_dict": model.state_dict(), "meta": {}}, checkpoint)
        rows[row] = (checkpoint, config)
    return rows


def table_rows(out: str) -> dict[str, list[str]]:
    lines = [line for line in out.splitlines() if line.startswith("| ") and "`" in line]
    return {cells[0]: cells[1:] for cells in (line.strip("| ").split(" | ") for line in lines)}


def test_rows_times_trained_checkpoints_gated_and_ungated(trained_rows, capsys):
    args = [f"{row}={checkpoint}" for row, (checkpoint, _) in trained_rows.items()]
    code = load_tool("benchmark_rows").main(
        ["--checkpoint", *args, "--ungated", "C4", "--batch", "2", "--rounds", "2"]
    )
    out = capsys.readouterr().out
    assert code == 0
    rows = table_rows(out)
    assert list(rows) == ["B1", "C4", "C4 ungated"]
    assert rows["C4"][0] == "ScoreGatedRoIHead" and rows["C4 ungated"][0] == "StandardRoIHead"
    classified, regressed, detections = (float(v) for v in rows["C4"][1:4])
    assert 0 < regressed < classified and detections > 0  # the gate skipped some RoIs
    ungated = rows["C4 ungated"]
    assert ungated[1] == ungated[2] == rows["C4"][1]  # every RoI classified and regressed
    assert ungated[3] == rows["C4"][3]  # the same detections per image
    assert rows["B1"][5] == "1.00" and "C4 inference ≤ 1.20× B1" in out
    assert "the first 2 image(s) of the test set" in out


def test_rows_rejects_bad_checkpoints(trained_rows, tmp_path, capsys):
    (b1, _), (c4, c4_config) = trained_rows["B1"], trained_rows["C4"]
    rows = load_tool("benchmark_rows")
    cases = {
        f"C4={tmp_path / 'missing.pth'}": "missing.pth: no such file",
        f"C4={c4},{tmp_path / 'none.py'}": "none.py: no such config file",
        f"Z9={c4}": "unknown row 'Z9'",
    }
    for item, message in cases.items():
        with pytest.raises(SystemExit):
            rows.parse_args(["--checkpoint", f"B1={b1}", item])
        assert message in capsys.readouterr().err
    (c4.parent / "other.py").write_text(c4_config.read_text())
    with pytest.raises(SystemExit):
        rows.parse_args(["--checkpoint", f"B1={b1}", f"C4={c4}"])
    assert "2 configs (*.py) next to the checkpoint" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        rows.parse_args(["--checkpoint", f"B1={b1}", f"C4={c4},{c4_config}", "--rows", "B1"])
    assert "give one for every row of --rows" in capsys.readouterr().err


# --- the shared timing module and tools/benchmark_norm.py, benchmark_heads.py ---


def test_round_robin_rotates_and_drops_warmup():
    from mmdet_evonorm.analysis.timing import round_robin

    log = []
    steps = {n: (lambda n=n: log.append(n)) for n in "abc"}
    times = round_robin(steps, "cpu", warmup=1, rounds=2)
    assert log == ["a", "b", "c", "b", "c", "a", "c", "a", "b"]
    assert {n: len(t) for n, t in times.items()} == {"a": 2, "b": 2, "c": 2}
    assert all(t >= 0 for ts in times.values() for t in ts)


def test_time_call_counts_cpu_time_not_sleep():
    import time

    from mmdet_evonorm.analysis.timing import clock_label, time_call

    assert time_call(lambda: time.sleep(0.2), "cpu") < 0.1  # sleeping uses no CPU
    assert clock_label("cpu") == "CPU time of this process"


def test_markdown_table_and_machine_line():
    from mmdet_evonorm.analysis.timing import cpu_simd, machine_description, markdown_table

    assert markdown_table(("a", "b"), [[1, "x"]], "lr") == "| a | b |\n|---|---:|\n| 1 | x |"
    with pytest.raises(ValueError, match="one letter per column"):
        markdown_table(("a", "b"), [], "l")
    assert cpu_simd() in machine_description("cpu")
    assert "avx2" in cpu_simd() or "no avx2" in cpu_simd() or cpu_simd() == "CPU flags unknown"


def test_norm_byte_model_and_targets():
    norm = load_tool("benchmark_norm")
    # 8 passes of 1 M bf16 elements in 1 ms: 16.8 GB/s
    assert norm.gbps("train", 2**20, torch.bfloat16, 1e-3) == pytest.approx(8 * 2**21 / 1e-3 / 1e9)
    assert norm.gbps("fwd", 10, torch.float32, 1.0) == 3 * 40 / 1e9
    shape = (2, 256, 200, 336)
    numel = torch.Size(shape).numel()
    fast = 8 * numel * 2 / (0.8e12)  # 80 % of a 1 TB/s copy
    results = {
        norm.EVONORM: dict(train=fast, train_ratio=0.6, saved_ratio=0.501),
        "GN+ReLU": dict(train=2 * fast, train_ratio=1.0, saved_ratio=1.0),
    }
    label = "FPN P3 2x256x200x336"
    rows = norm.check_targets("cuda", {(label, "bf16"): results}, {label: shape}, 1e12)
    assert [r[2] for r in rows] == ["pass", "pass", "pass"]  # 0.501 prints as 0.50
    assert rows[2][1] == "80 %"
    results[norm.EVONORM].update(train_ratio=1.2, saved_ratio=0.6)
    rows = norm.check_targets("cpu", {("4-D", "fp32"): results}, {"4-D": (2, 32, 4, 4)}, 1e12)
    assert rows == [
        ["4-D fp32: EvoNormS0 fwd+bwd <= 1.0x GN+ReLU", "1.20x", "**FAIL**"],
        ["4-D fp32: saved memory <= 0.5x GN+ReLU", "0.60x", "**FAIL**"],
    ]
    assert norm.check_targets("cpu", {("2-D", "fp32"): results}, {"2-D": (2, 32)}, 1e12) == []


@pytest.mark.parametrize(
    "args, message",
    [
        (["--shape", "2x33x4x4"], "C a multiple of 32"),
        (["--shape", "2xfoo"], "expected NxC or NxCxHxW"),
        (["--repeats", "0"], "--repeats must be >= 1"),
        (["--out", "/nonexistent/dir/x.md"], "the folder does not exist"),
    ],
)
def test_norm_rejects_bad_input(args, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        load_tool("benchmark_norm").parse_args(args)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message without CUDA")
def test_norm_without_cuda_fails_with_one_line(capsys):
    assert load_tool("benchmark_norm").main(["--device", "cuda"]) == 2
    err = capsys.readouterr().err
    assert err.strip().splitlines() == [
        "benchmark_norm: --device cuda: no CUDA device is available; use --device cpu"
    ]


def test_norm_runs_on_cpu_at_tiny_shapes(tmp_path, capsys):
    out = tmp_path / "norm.md"
    args = ["--shape", "2x64x6x6", "--shape", "8x64", "--repeats", "2", "--warmup", "0"]
    assert load_tool("benchmark_norm").main([*args, "--copy-mib", "1", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert out.read_text() == text
    assert "Byte model: GB/s = passes" in text and "CPU time of this process" in text
    rows = [ln.split(" | ") for ln in text.splitlines() if ln.startswith("| 2x64x6x6 | fp32 |")]
    layers = [r[2] for r in rows]
    assert layers[:4] == ["BN+ReLU", "GN+ReLU", "EvoNormS0", "EvoNormS0, PyTorch path"]
    gn = next(r for r in rows if r[2] == "GN+ReLU")
    assert gn[4] == "1.00" and gn[8] == "1.00" and gn[12].rstrip(" |") == "1.00"
    evo = next(r for r in rows if r[2] == "EvoNormS0")
    # saved: x plus the per-group mean and rstd, against GN's input and ReLU's output
    assert 0.50 <= float(evo[12].rstrip(" |")) <= 0.52
    assert "| 2x64x6x6 fp32: EvoNormS0 fwd+bwd <= 1.0x GN+ReLU |" in text
    assert "8x64 fp32:" not in text  # the CPU targets are for the 4-D shapes


def test_heads_tool_times_every_head(capsys):
    args = ["--rois", "2", "--in-channels", "32", "--fc", "32", "--num-classes", "3"]
    assert load_tool("benchmark_heads").main([*args, "--reps", "1", "--warmup", "0"]) == 0
    out = capsys.readouterr().out
    assert "CPU time of this process" in out
    rows = [ln for ln in out.splitlines() if ln.startswith("| ") and "params" not in ln]
    assert len(rows) == 6 and rows[0].startswith("| baseline: 2 FC + GN + ReLU |")
    assert rows[0].endswith("| 1.00 |")


def test_rows_rejects_checkpoints_of_different_test_sets(trained_rows, tiny_config, tmp_path):
    (b1, _), (c4, _) = trained_rows["B1"], trained_rows["C4"]
    (tmp_path / "other").mkdir()
    other = tiny_config("other/c4.py", **{"test_dataloader.dataset.ann_file": "annotations/x.json"})
    with pytest.raises(SystemExit) as exit_info:
        load_tool("benchmark_rows").main(["--checkpoint", f"B1={b1}", f"C4={c4},{other}"])
    assert "c4.py: test set" in str(exit_info.value) and "differs from B1's" in str(exit_info.value)
