# The recipe every ablation row shares (SPEC §7.1): model, COCO data at 576, the 120k
# iteration schedule and the runtime. Row configs state only their difference.
_base_ = [
    "./models/mask_rcnn_r50_fpn3_evonorm.py",
    "./datasets/coco_instance_576.py",
    "./schedules/iter_120k.py",
    "./default_runtime.py",
]
