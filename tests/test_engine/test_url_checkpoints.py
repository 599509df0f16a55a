"""URL checkpoints load weights-only, and ``torchvision://resnet50`` works without torchvision.

A malicious pickle is served from a loopback HTTP server started by the test
(127.0.0.1 only, closed at teardown); the ImageNet ResNet-50 file is stood in
for by random tensors in torchvision's ResNet-50 key layout.
"""

from __future__ import annotations

import builtins
import functools
import http.server
import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from helpers import single_error_line
from mmengine.config import Config
from mmengine.runner.checkpoint import CheckpointLoader, _load_checkpoint

from mmdet_evonorm.checks import BadInputError
from mmdet_evonorm.checks.checkpoints import check_pretrained_checkpoints
from mmdet_evonorm.engine import url_checkpoints
from mmdet_evonorm.engine.safe_checkpoint import UnsafeCheckpointError
from mmdet_evonorm.engine.url_checkpoints import OFFLINE_DIR_ENV, resolve_url

REPO = Path(__file__).resolve().parents[2]
B1_CONFIG = REPO / "configs/mask_rcnn_fpn3_evonorm.py"
RESNET50_FILE = "resnet50-0676ba61.pth"
RESNET50_URL = f"https://download.pytorch.org/models/{RESNET50_FILE}"


class CreatesFile:
    """Unpickling this calls ``exec``, which creates ``path``: what a tampered file could do."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self):
        return builtins.exec, (f"open({str(self.path)!r}, 'w').close()",)


@pytest.fixture
def hub_dir(tmp_path, monkeypatch) -> Path:
    """An empty torch.hub cache, and no offline folder."""
    previous = torch.hub.get_dir()
    torch.hub.set_dir(str(tmp_path / "hub"))
    monkeypatch.delenv(OFFLINE_DIR_ENV, raising=False)
    yield tmp_path / "hub"
    torch.hub.set_dir(previous)


@pytest.fixture
def served(tmp_path, monkeypatch) -> Iterator[tuple[Path, str]]:
    """``(folder, base_url)``: files in ``folder`` served on a loopback port."""
    folder = tmp_path / "served"
    folder.mkdir()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

    handler = functools.partial(Quiet, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.timeout = 10
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    for key in ("no_proxy", "NO_PROXY"):
        monkeypatch.setenv(key, "127.0.0.1,localhost")
    yield folder, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


def malicious_file(folder: Path, marker: Path) -> Path:
    path = folder / "evil-0123abcd.pth"
    torch.save({"state_dict": {"w": torch.zeros(1)}, "meta": CreatesFile(marker)}, path)
    return path


def test_payload_is_real(tmp_path):
    """Control: unpickled without weights_only, the test file does create the marker."""
    marker = tmp_path / "pwned"
    path = malicious_file(tmp_path, marker)
    torch.load(path, weights_only=False)
    assert marker.exists()


@pytest.mark.parametrize("route", ["load_checkpoint", "init_cfg", "load_from"])
def test_served_malicious_pickle_is_refused(route, hub_dir, served, tmp_path):
    folder, base = served
    marker = tmp_path / "pwned"
    malicious_file(folder, marker)
    url = f"{base}/evil-0123abcd.pth"
    with pytest.raises(UnsafeCheckpointError, match=r"weights_only=True\) \(it pickles \S*exec"):
        if route == "load_checkpoint":
            _load_checkpoint(url, map_location="cpu")
        elif route == "init_cfg":
            from mmengine.model import BaseModule

            class Tiny(BaseModule):
                def __init__(self):
                    super().__init__(init_cfg=dict(type="Pretrained", checkpoint=url))
                    self.w = torch.nn.Parameter(torch.ones(1))

            Tiny().init_weights()
        else:
            from mmengine.runner.checkpoint import load_checkpoint

            load_checkpoint(torch.nn.Linear(1, 1), url, map_location="cpu")
    assert not marker.exists()
    assert (hub_dir / "checkpoints/evil-0123abcd.pth").is_file()  # downloaded, then refused


def test_train_tool_refuses_served_pickle_from_cfg_options(tool, tiny_config, served, tmp_path):
    folder, base = served
    marker = tmp_path / "pwned"
    malicious_file(folder, marker)
    config = tiny_config()
    env = {"TORCH_HOME": str(tmp_path / "torch_home")}
    run = tool(
        "tools/train.py",
        config,
        "--work-dir",
        tmp_path / "work",
        "--cfg-options",
        f"load_from={base}/evil-0123abcd.pth",
        env=env,
    )
    assert run.returncode == 2, run.stderr[-3000:]
    line = single_error_line(run.stderr)
    assert "evil-0123abcd.pth" in line and "weights_only=True" in line
    assert not marker.exists()


@pytest.mark.parametrize("url", ["s3://bucket/evil.pth", "cluster:petrel://b/evil.pth", "pavi://m"])
def test_storage_schemes_refuse_a_malicious_pickle(url, tmp_path, monkeypatch):
    """s3/petrel (mmengine's file backend) and pavi (its modelcloud), each faked to hand
    over the malicious file's bytes, go through the same weights-only load."""
    import sys
    import types

    import mmengine.fileio

    marker = tmp_path / "pwned"
    data = malicious_file(tmp_path, marker).read_bytes()
    backend = types.SimpleNamespace(get=lambda _path: data)
    monkeypatch.setattr(mmengine.fileio, "get_file_backend", lambda *a, **k: backend)

    class Model:
        name = "evil.pth"

        def download(self, path):
            Path(path).write_bytes(data)

    pavi = types.ModuleType("pavi")
    pavi.modelcloud = types.SimpleNamespace(get=lambda _name: Model())
    monkeypatch.setitem(sys.modules, "pavi", pavi)
    with pytest.raises(UnsafeCheckpointError, match="weights_only=True"):
        _load_checkpoint(url, map_location="cpu")
    assert not marker.exists()


def test_every_url_scheme_of_mmengine_is_weights_only():
    examples = [
        "http://h/x.pth",
        "https://h/x.pth",
        "torchvision://resnet50",
        "modelzoo://resnet50",
        "open-mmlab://resnet50_caffe",
        "openmmlab://resnet50_caffe",
        "mmcls://resnet50",
        "s3://bucket/x.pth",
        "cluster:s3://bucket/x.pth",
        "petrel://bucket/x.pth",
        "pavi://model/x.pth",
    ]
    ours = set(url_checkpoints.LOADERS.values())
    for example in examples:
        assert CheckpointLoader._get_checkpoint_loader(example) in ours, example


def test_torchvision_names_without_torchvision():
    assert resolve_url("torchvision://resnet50") == RESNET50_URL  # IMAGENET1K_V1
    assert resolve_url("modelzoo://resnet50") == RESNET50_URL
    assert resolve_url("/local/file.pth") is None
    with pytest.raises(BadInputError, match="'resnet5o' has no URL"):
        resolve_url("torchvision://resnet5o")


def torchvision_resnet50_state_dict(seed: int = 0) -> dict[str, torch.Tensor]:
    """Random tensors in the key layout and shapes of torchvision's ResNet-50 file.

    conv1 + bn1, then layer1-4 of (3, 4, 6, 3) bottlenecks (conv1-3 + bn1-3, and
    downsample.0/1 in each stage's first block), then the 1000-class fc. BN
    entries are weight, bias, running_mean, running_var (the file has no
    num_batches_tracked).
    """
    gen = torch.Generator().manual_seed(seed)
    shapes: dict[str, tuple[int, ...]] = {"conv1.weight": (64, 3, 7, 7)}

    def bn(name: str, channels: int) -> None:
        for entry in ("weight", "bias", "running_mean", "running_var"):
            shapes[f"{name}.{entry}"] = (channels,)

    bn("bn1", 64)
    in_channels = 64
    stages = zip((3, 4, 6, 3), (64, 128, 256, 512), strict=True)
    for stage, (blocks, width) in enumerate(stages, start=1):
        for block in range(blocks):
            name = f"layer{stage}.{block}"
            block_in = in_channels if block == 0 else 4 * width
            shapes[f"{name}.conv1.weight"] = (width, block_in, 1, 1)
            shapes[f"{name}.conv2.weight"] = (width, width, 3, 3)
            shapes[f"{name}.conv3.weight"] = (4 * width, width, 1, 1)
            for index, channels in ((1, width), (2, width), (3, 4 * width)):
                bn(f"{name}.bn{index}", channels)
            if block == 0:
                shapes[f"{name}.downsample.0.weight"] = (4 * width, block_in, 1, 1)
                bn(f"{name}.downsample.1", 4 * width)
        in_channels = 4 * width
    shapes.update({"fc.weight": (1000, 2048), "fc.bias": (1000,)})
    return {key: torch.rand(shape, generator=gen) + 0.5 for key, shape in shapes.items()}


def b1_backbone():
    import mmdet.models  # noqa: F401  (registers ResNet)
    from mmdet.registry import MODELS

    backbone_cfg = Config.fromfile(str(B1_CONFIG)).model.backbone
    assert backbone_cfg.init_cfg == dict(type="Pretrained", checkpoint="torchvision://resnet50")
    return MODELS.build(backbone_cfg)


def test_b1_backbone_loads_torchvision_layout_offline(tmp_path, monkeypatch, hub_dir):
    state_dict = torchvision_resnet50_state_dict()
    offline = tmp_path / "weights"
    offline.mkdir()
    torch.save(state_dict, offline / RESNET50_FILE)
    monkeypatch.setenv(OFFLINE_DIR_ENV, str(offline))
    backbone = b1_backbone()
    before = {k: v.clone() for k, v in backbone.state_dict().items()}
    backbone.init_weights()
    loaded = backbone.state_dict()
    keys = [k for k in loaded if not k.endswith("num_batches_tracked")]
    for key in keys:
        assert torch.equal(loaded[key], state_dict[key]), key
        assert not torch.equal(loaded[key], before[key]), key  # the value really changed
    result = backbone.load_state_dict(state_dict, strict=False)
    assert [k for k in result.missing_keys if not k.endswith("num_batches_tracked")] == []
    assert sorted(result.unexpected_keys) == ["fc.bias", "fc.weight"]  # the classifier only
    assert sorted(set(state_dict) - set(keys)) == ["fc.bias", "fc.weight"]
    assert not hub_dir.exists()  # nothing downloaded or cached


def test_missing_offline_copy_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv(OFFLINE_DIR_ENV, str(tmp_path))
    with pytest.raises(BadInputError) as error:
        _load_checkpoint("torchvision://resnet50", map_location="cpu")
    message = str(error.value)
    assert "\n" not in message
    for part in (RESNET50_FILE, RESNET50_URL, OFFLINE_DIR_ENV, str(tmp_path)):
        assert part in message
    init_cfg = dict(type="Pretrained", checkpoint="torchvision://resnet50")
    cfg = Config(dict(model=dict(backbone=dict(init_cfg=init_cfg))))
    with pytest.raises(BadInputError, match=r"model\.backbone\.init_cfg\.checkpoint: .*not found"):
        check_pretrained_checkpoints(cfg)


def test_no_network_is_one_line(hub_dir, monkeypatch):
    with socket.socket() as sock:  # a loopback port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    for key in ("no_proxy", "NO_PROXY"):
        monkeypatch.setenv(key, "127.0.0.1")
    url = f"http://127.0.0.1:{port}/{RESNET50_FILE}"
    with pytest.raises(BadInputError) as error:
        _load_checkpoint(url, map_location="cpu")
    message = str(error.value)
    assert "\n" not in message
    for part in (f"cannot download {url}", RESNET50_FILE, OFFLINE_DIR_ENV):
        assert part in message
    assert not os.listdir(hub_dir / "checkpoints")  # no partial file left as the cached copy


def test_rows_start_from_imagenet_and_the_quickstart_from_scratch():
    from mmdet_evonorm.rows import ROWS

    pretrained = dict(type="Pretrained", checkpoint="torchvision://resnet50")
    for row in ROWS:
        init_cfg = Config.fromfile(str(REPO / "configs" / row.config)).model.backbone.init_cfg
        assert init_cfg == pretrained, row.id
    for path in (REPO / "configs/quickstart").glob("*.py"):
        assert Config.fromfile(str(path)).model.backbone.init_cfg is None, path.name
