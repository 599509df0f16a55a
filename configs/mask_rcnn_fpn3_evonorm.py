# Seed row B1, FPN-3 "base line" (Mask-RCNN-FPN-3.yaml): the shared recipe unchanged.
# ResNet-50 -> FPN P3-P6 with EvoNorm-S0, RPN (GIoU) on P3-P6, RoIs from P3-P6,
# box head 2FC+GN(32)+ReLU, mask head with BN+ReLU (also after the deconv),
# multistep lr 80k/100k, 120k iterations.
from mmengine.config import read_base

with read_base():
    from ._base_.recipe import *
