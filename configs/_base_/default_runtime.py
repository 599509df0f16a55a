# mmdet's runtime plus what every config of this package needs: our modules registered,
# checkpoints loadable with torch.load(weights_only=True), iteration-based logging, and
# runs that survive (docs/reliability.md): atomic checkpoint saves, a stop at the first
# non-finite loss / gradient norm (max_skips=N skips N bad updates instead), and
# per-batch seeds so a resumed run draws the same random numbers as an uninterrupted one.
_base_ = "mmdet::_base_/default_runtime.py"

custom_imports = dict(imports=["mmdet_evonorm"], allow_failed_imports=False)
custom_hooks = [dict(type="SafeCheckpointHook")]
default_hooks = dict(
    logger=dict(type="LoggerHook", interval=50),
    checkpoint=dict(type="AtomicCheckpointHook", by_epoch=False, interval=5000, max_keep_ckpts=3),
    non_finite_guard=dict(type="NonFiniteGuardHook", max_skips=0),
    iteration_seed=dict(type="IterationSeedHook"),
)
log_processor = dict(type="LogProcessor", window_size=50, by_epoch=False)
