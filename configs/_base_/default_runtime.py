# mmdet's runtime plus what every config of this package needs: our modules registered,
# checkpoints loadable with torch.load(weights_only=True), iteration-based logging.
_base_ = "mmdet::_base_/default_runtime.py"

custom_imports = dict(imports=["mmdet_evonorm"], allow_failed_imports=False)
custom_hooks = [dict(type="SafeCheckpointHook")]
default_hooks = dict(
    logger=dict(type="LoggerHook", interval=50),
    checkpoint=dict(type="CheckpointHook", by_epoch=False, interval=5000, max_keep_ckpts=3),
)
log_processor = dict(type="LogProcessor", window_size=50, by_epoch=False)
