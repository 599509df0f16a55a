"""Paths from the command line: folders that cannot be made, outputs that exist."""

from __future__ import annotations

import os

import pytest

from mmdet_evonorm.checks import BadInputError
from mmdet_evonorm.checks.files import check_config_file, check_creatable_dir, check_new_file


def test_a_folder_that_exists_or_can_be_made_passes_and_nothing_is_created(tmp_path):
    check_creatable_dir(str(tmp_path), "--work-dir")
    check_creatable_dir(str(tmp_path / "a" / "b"), "--work-dir")
    assert os.listdir(tmp_path) == []


def test_a_file_in_the_way(tmp_path):
    blocker = tmp_path / "taken"
    blocker.write_text("x")
    with pytest.raises(BadInputError, match=r"--work-dir '.*taken' cannot be a folder: it is"):
        check_creatable_dir(str(blocker), "--work-dir")
    with pytest.raises(BadInputError, match=f"cannot be a folder: {blocker} is a file"):
        check_creatable_dir(str(blocker / "run"), "--work-dir")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes everywhere")
def test_a_folder_without_write_permission(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    with pytest.raises(BadInputError, match="is not writable"):
        check_creatable_dir(str(locked / "run"), "--work-dir")


def test_config_file_and_new_file(tmp_path):
    with pytest.raises(BadInputError, match="is a folder; pass the path of a .py config file"):
        check_config_file(str(tmp_path))
    with pytest.raises(BadInputError, match="not found"):
        check_config_file(str(tmp_path / "missing.py"))
    (tmp_path / "out.pth").write_bytes(b"")
    with pytest.raises(BadInputError, match="--out .*out.pth already exists"):
        check_new_file(str(tmp_path / "out.pth"), "--out")
    check_new_file(str(tmp_path / "new" / "out.pth"), "--out")
