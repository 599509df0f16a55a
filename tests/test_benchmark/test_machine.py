"""mmdet_evonorm.benchmark.machine: the machine line and the load over a run."""

from __future__ import annotations

import os

import torch

from mmdet_evonorm.benchmark.machine import LoadMeter, cpu_simd, machine_description


def test_machine_line_names_cpu_features_threads_and_versions():
    line = machine_description("cpu")
    assert cpu_simd() in line and f"{os.cpu_count()} logical CPUs" in line
    assert f"torch {torch.__version__}" in line
    assert f"intra-op threads: {torch.get_num_threads()}" in line
    simd = cpu_simd()
    assert "avx2" in simd or simd == "CPU flags unknown"


def test_load_meter_states_the_cpu_share_and_warns_when_shared():
    meter = LoadMeter()
    sum(i * i for i in range(200_000))
    summary = meter.summary()
    assert summary.startswith("wall ") and "CPU cores on average" in summary
    shared = "Other processes were using the CPUs" in summary
    assert shared == meter.machine_was_shared()
