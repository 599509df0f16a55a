# SGD lr 0.02 (12 images / iteration), momentum 0.9, weight decay 1e-4, global-norm
# clip 32, warm-up from 0 over 1000 iterations, x0.1 at 80k and 100k, stop at 120k;
# or cosine from 1000 to 120k down to 1e-6 (docs/original.md, "Schedule").
train_cfg = dict(type="IterBasedTrainLoop", max_iters=120000, val_interval=10000)
val_cfg = dict(type="ValLoop")
test_cfg = dict(type="TestLoop")

optim_wrapper = dict(
    # mmengine OptimWrapper + a check before each step (stop, or skip with max_skips)
    type="NonFiniteGuardOptimWrapper",
    optimizer=dict(type="SGD", lr=0.02, momentum=0.9, weight_decay=1e-4),
    clip_grad=dict(max_norm=32, norm_type=2),
    # EvoNorm-S0 parameters carry no weight decay (mmengine's norm_decay_mult does not
    # recognise them as norms; they are selected by their `evonorm` module names).
    paramwise_cfg=dict(custom_keys={"evonorm": dict(decay_mult=0.0)}),
)
# Both LR shapes of the seed log; rows pick one with
# `param_scheduler = [_base_.warmup, _base_.cosine]`.
# Warm-up lr0 * t / 1000 for t <= 1000, from 0 as in the original: LinearLR reaches
# end_factor at step end - 1, and start_factor 0 would divide by zero in its update.
warmup = dict(type="LinearLR", start_factor=1e-8, by_epoch=False, begin=0, end=1001)
multistep = dict(
    type="MultiStepLR", by_epoch=False, begin=0, end=120000, milestones=[80000, 100000], gamma=0.1
)
cosine = dict(type="CosineAnnealingLR", by_epoch=False, begin=1000, end=120000, eta_min=1e-6)
param_scheduler = [warmup, multistep]
# 3 GPUs x 4 images. `--auto-scale-lr` rescales lr for another total batch size.
auto_scale_lr = dict(enable=False, base_batch_size=12)
