"""CheckpointHook whose saves survive a kill at any moment."""

from __future__ import annotations

import glob
import os
import os.path as osp

from mmdet.registry import HOOKS
from mmengine.dist import is_main_process
from mmengine.fileio import LocalBackend
from mmengine.hooks import CheckpointHook

from ..atomic_files import publish, temp_name, write_text_atomic


@HOOKS.register_module()
class AtomicCheckpointHook(CheckpointHook):
    """mmengine's ``CheckpointHook`` with atomic saves and delete-after-save retention.

    Gaps of ``CheckpointHook._save_checkpoint_with_step`` (mmengine 0.10.7) on a
    local disk, each of which a SIGKILL or power loss at the wrong moment turns
    into a lost run:

    1. ``iter_N.pth`` is written in place, so a kill mid-write leaves a
       truncated file under the final name;
    2. with ``max_keep_ckpts`` the oldest kept checkpoint is deleted *before*
       the new one is written (with ``max_keep_ckpts=1``, a kill during the
       save leaves no checkpoint at all);
    3. ``last_checkpoint`` is truncated, then rewritten; a kill in between
       leaves it empty and ``--resume`` fails.

    Here every save goes through :mod:`..atomic_files`::

        runner.save_checkpoint -> OUT/.iter_N.pth.tmp      fsync
        os.replace             -> OUT/iter_N.pth           fsync OUT
        last_checkpoint        -> written the same way
        then delete the checkpoints beyond max_keep_ckpts

    so ``last_checkpoint`` always names a complete file. Temp files left by a
    killed save are removed in ``before_train``. Arguments, interval and
    retention are ``CheckpointHook``'s (``interval``, ``by_epoch``,
    ``max_keep_ckpts``, ``save_last``, ...); with a remote ``out_dir`` or
    ``file_client_args`` it behaves exactly like ``CheckpointHook``. Best-metric
    checkpoints (``save_best``) are still written by mmengine's code.
    """

    def before_train(self, runner) -> None:
        super().before_train(runner)
        if self._is_local() and is_main_process():
            pattern = osp.join(self.out_dir, temp_name(self.filename_tmpl.format("*")))
            for stale in glob.glob(pattern):
                os.remove(stale)

    def _is_local(self) -> bool:
        return self.file_client_args is None and isinstance(self.file_backend, LocalBackend)

    def _save_checkpoint_with_step(self, runner, step, meta) -> None:
        if not self._is_local():
            super()._save_checkpoint_with_step(runner, step, meta)
            return
        expired = self._rotate(runner, step)
        filename = self.filename_tmpl.format(step)
        self.last_ckpt = osp.join(self.out_dir, filename)
        runner.message_hub.update_info("last_ckpt", self.last_ckpt)
        runner.save_checkpoint(
            self.out_dir,
            temp_name(filename),
            save_optimizer=self.save_optimizer,
            save_param_scheduler=self.save_param_scheduler,
            meta=meta,
            by_epoch=self.by_epoch,
            backend_args=self.backend_args,
            **self.args,
        )
        if not is_main_process():
            return
        publish(osp.join(self.out_dir, temp_name(filename)), self.last_ckpt)
        write_text_atomic(osp.join(runner.work_dir, "last_checkpoint"), self.last_ckpt)
        for path in expired:
            if osp.isfile(path):
                os.remove(path)

    def _rotate(self, runner, step: int) -> list[str]:
        """Record ``step`` among the kept checkpoints; return the paths that fall out.

        The bookkeeping is ``CheckpointHook``'s (``keep_ckpt_ids`` in the message
        hub, so it is saved and resumed); only the deletion is deferred.
        """
        if self.max_keep_ckpts <= 0 or (self.keep_ckpt_ids and self.keep_ckpt_ids[-1] == step):
            return []
        expired = []
        if len(self.keep_ckpt_ids) == self.max_keep_ckpts:
            old = self.keep_ckpt_ids.popleft()
            expired.append(osp.join(self.out_dir, self.filename_tmpl.format(old)))
        self.keep_ckpt_ids.append(step)
        runner.message_hub.update_info("keep_ckpt_ids", list(self.keep_ckpt_ids))
        return expired
