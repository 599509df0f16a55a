# mmdet 3.3.0's runtime (`mmdet::_base_/default_runtime.py`, restated: see configs/README.md)
# plus what every config of this package needs: our modules registered, checkpoints
# loadable with torch.load(weights_only=True), iteration-based logging, and runs that
# survive (docs/reliability.md): atomic checkpoint saves, a stop at the first non-finite
# loss / gradient norm (max_skips=N skips N bad updates instead), and per-batch seeds so
# a resumed run draws the same random numbers as an uninterrupted one.
from mmengine.config.config import import_modules_from_strings

default_scope = "mmdet"
# mmengine applies `custom_imports` to old-style configs only (a dump of this one is
# old-style); a pure-Python config imports the package here, while it is read. The
# mmengine.config import above is a real one: other imports in configs are lazy.
custom_imports = dict(imports=["mmdet_evonorm"], allow_failed_imports=False)
import_modules_from_strings(**custom_imports)

custom_hooks = [dict(type="SafeCheckpointHook")]
default_hooks = dict(
    timer=dict(type="IterTimerHook"),
    logger=dict(type="LoggerHook", interval=50),
    param_scheduler=dict(type="ParamSchedulerHook"),
    checkpoint=dict(type="AtomicCheckpointHook", by_epoch=False, interval=5000, max_keep_ckpts=3),
    sampler_seed=dict(type="DistSamplerSeedHook"),
    visualization=dict(type="DetVisualizationHook"),
    non_finite_guard=dict(type="NonFiniteGuardHook", max_skips=0),
    iteration_seed=dict(type="IterationSeedHook"),
)
env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method="fork", opencv_num_threads=0),
    dist_cfg=dict(backend="nccl"),
)
vis_backends = [dict(type="LocalVisBackend")]
visualizer = dict(type="DetLocalVisualizer", vis_backends=vis_backends, name="visualizer")
log_processor = dict(type="LogProcessor", window_size=50, by_epoch=False)
log_level = "INFO"
load_from = None
resume = False
