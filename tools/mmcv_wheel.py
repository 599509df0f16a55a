"""Describe a prebuilt mmcv wheel with CUDA ops, and check that it fits this machine.

    python tools/mmcv_wheel.py record WHEEL --python 3.12 --torch 2.11.0 --arch 9.0 \\
        --built-by TEXT --out mmcv-build.json
    python tools/mmcv_wheel.py check WHEELHOUSE --arch 9.0

``record`` (run by ``tools/make_gpu_wheelhouse.sh``) reads the wheel: its tags, and in its
``mmcv/_ext*.so`` the CUDA runtime it links (``libcudart.so.<major>``) and the GPU code it
holds (nvcc writes ``-arch sm_XY`` into every cubin's entry of the fat binary, uncompressed).
It refuses a wheel without CUDA ops or for another Python or arch, then writes the record:
wheel name and sha256, Python, torch release, CUDA major, GPU code, how it was built.

``check`` (run by ``tools/gpu_check.sh`` with the GPU machine's interpreter) compares the
wheelhouse's one mmcv wheel and its ``mmcv-build.json`` with this interpreter, its torch and
the GPU's arch, and prints the wheel's path. Errors: one ``error:`` line, exit status 2.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
import zipfile
from pathlib import Path

RECORD = "mmcv-build.json"
VERSION = "2.1.0"


class WheelError(ValueError):
    """A wheel, record or wheelhouse that does not fit; the message says what to do."""


def python_tag(python: str) -> str:
    """``"3.12"`` -> ``"cp312"``."""
    if not re.fullmatch(r"3\.\d+", python):
        raise WheelError(f"--python {python}: give a version like 3.12")
    return "cp" + python.replace(".", "")


def sm_code(arch: str) -> str:
    """A TORCH_CUDA_ARCH_LIST entry (``"9.0"``, ``"9.0a"``, ``"8.6+PTX"``) -> ``"sm_90"``."""
    match = re.fullmatch(r"(\d+)\.(\d)[af]?(\+PTX)?", arch)
    if not match:
        raise WheelError(f"--arch {arch}: give a compute capability like 9.0")
    return f"sm_{match[1]}{match[2]}"


def cuda_code(binary: bytes) -> tuple[int | None, list[str]]:
    """The CUDA runtime major a shared object links (``libcudart.so.13`` -> 13) and its GPU code."""
    cudart = re.search(rb"libcudart\.so\.(\d+)\x00", binary)
    codes = sorted({code.decode() for code in re.findall(rb"-arch (sm_\d+[af]?) ", binary)})
    return (int(cudart[1]) if cudart else None), codes


def inspect(wheel: Path) -> dict:
    """Name, tags, CUDA runtime major and GPU code of an mmcv wheel with CUDA ops."""
    parts = wheel.name[: -len(".whl")].split("-")
    if not wheel.name.endswith(".whl") or len(parts) != 5 or parts[:2] != ["mmcv", VERSION]:
        raise WheelError(f"{wheel}: not an mmcv-{VERSION}-<python>-<abi>-<platform>.whl")
    try:
        with zipfile.ZipFile(wheel) as archive:
            exts = [n for n in archive.namelist() if re.fullmatch(r"mmcv/_ext\.[^/]*\.so", n)]
            if len(exts) != 1:
                raise WheelError(f"{wheel}: no mmcv/_ext*.so, so mmcv's ops were not compiled")
            binary = archive.read(exts[0])
    except (OSError, zipfile.BadZipFile) as exc:
        raise WheelError(f"{wheel}: cannot read the wheel ({exc})") from exc
    cuda_major, codes = cuda_code(binary)
    if cuda_major is None or not codes:
        raise WheelError(f"{wheel}: {exts[0]} has no CUDA code (built without FORCE_CUDA=1)")
    return dict(
        wheel=wheel.name,
        python_tag=parts[2],
        abi_tag=parts[3],
        platform_tag=parts[4],
        extension=exts[0],
        cuda_major=cuda_major,
        gpu_code=codes,
    )


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def record(wheel: Path, python: str, torch: str, archs: str, built_by: str) -> dict:
    """The build record of ``wheel``; refuses a wheel for another Python or arch."""
    info = inspect(wheel)
    tag = python_tag(python)
    if (info["python_tag"], info["abi_tag"], info["platform_tag"]) != (tag, tag, "linux_x86_64"):
        raise WheelError(
            f"{wheel}: tagged {info['python_tag']}-{info['abi_tag']}-{info['platform_tag']}, "
            f"not {tag}-{tag}-linux_x86_64 (--python {python})"
        )
    missing = [a for a in archs.replace(";", " ").split() if sm_code(a) not in info["gpu_code"]]
    if missing:
        raise WheelError(
            f"{wheel}: no GPU code for arch {' '.join(missing)} (it holds "
            f"{' '.join(info['gpu_code'])}); build it with TORCH_CUDA_ARCH_LIST including them"
        )
    return dict(
        info, python=python, torch=torch, sha256=sha256(wheel), arch=archs, built_by=built_by
    )


def find_wheel(wheelhouse: Path) -> tuple[Path, dict]:
    """The wheelhouse's one mmcv wheel and its record."""
    wheels = sorted(wheelhouse.glob(f"mmcv-{VERSION}-*.whl"))
    if len(wheels) != 1:
        raise WheelError(f"--wheelhouse {wheelhouse}: {len(wheels)} mmcv-{VERSION} wheels, not 1")
    try:
        built = json.loads((wheelhouse / RECORD).read_text())
    except (OSError, ValueError) as exc:
        raise WheelError(
            f"--wheelhouse {wheelhouse}: {wheels[0].name} without a readable {RECORD} ({exc}); "
            "make the wheelhouse with tools/make_gpu_wheelhouse.sh"
        ) from exc
    if built.get("wheel") != wheels[0].name or built.get("sha256") != sha256(wheels[0]):
        raise WheelError(
            f"--wheelhouse {wheelhouse}: {RECORD} describes another file than {wheels[0].name}; "
            "make the wheelhouse again"
        )
    return wheels[0], built


def check(built: dict, python: str, torch: str, torch_cuda: str | None, arch: str) -> None:
    """Refuse a recorded wheel built for another Python, torch, CUDA major or GPU arch."""
    remake = "remake it with tools/make_gpu_wheelhouse.sh (see --help) or drop it to build here"
    if built["python_tag"] != python_tag(python):
        raise WheelError(
            f"{built['wheel']} is built for Python {built['python']}, this is {python}; {remake}"
        )
    if built["torch"].split("+")[0] != torch.split("+")[0]:
        raise WheelError(
            f"{built['wheel']} is built against torch {built['torch']}, this is torch {torch}; "
            f"{remake}"
        )
    if torch_cuda is None or int(torch_cuda.split(".")[0]) != built["cuda_major"]:
        raise WheelError(
            f"{built['wheel']} links CUDA {built['cuda_major']}'s runtime, this torch {torch} "
            f"has CUDA {torch_cuda}; {remake}"
        )
    if sm_code(arch) not in built["gpu_code"]:
        raise WheelError(
            f"{built['wheel']} holds GPU code for {' '.join(built['gpu_code'])}, not this GPU's "
            f"{sm_code(arch)}; {remake}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    rec = commands.add_parser("record", help="check a wheel and write its build record")
    rec.add_argument("wheel", type=Path)
    rec.add_argument("--python", required=True, help="target Python, e.g. 3.12")
    rec.add_argument("--torch", required=True, help="torch it was built against, e.g. 2.11.0")
    rec.add_argument("--arch", required=True, help='TORCH_CUDA_ARCH_LIST, e.g. "8.0;9.0"')
    rec.add_argument("--built-by", required=True, help="how the wheel was made (one line)")
    rec.add_argument("--out", type=Path, required=True, help=f"the record ({RECORD})")
    chk = commands.add_parser("check", help="does the wheelhouse's mmcv wheel fit here?")
    chk.add_argument("wheelhouse", type=Path)
    chk.add_argument("--arch", required=True, help="this GPU's compute capability, e.g. 9.0")
    args = parser.parse_args(argv)
    try:
        if args.command == "record":
            built = record(args.wheel, args.python, args.torch, args.arch, args.built_by)
            args.out.write_text(json.dumps(built, indent=2) + "\n")
            print(
                f"[mmcv_wheel] {args.wheel.name}: CUDA {built['cuda_major']}, "
                f"{' '.join(built['gpu_code'])}, Python {args.python}, torch {args.torch}"
            )
        else:
            import torch

            wheel, built = find_wheel(args.wheelhouse)
            python = f"{sys.version_info.major}.{sys.version_info.minor}"
            check(built, python, torch.__version__, torch.version.cuda, args.arch)
            print(wheel)
    except WheelError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
