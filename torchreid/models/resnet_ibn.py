"""ResNet-50 with IBN blocks (Pan et al. ECCV'18, "Two at Once: Enhancing Learning and Generalization Capacities via
IBN-Net"): torchreid 1.x's ``resnet50_ibn_a`` and ``resnet50_ibn_b``. Instance normalisation in the early layers
removes appearance (colour, contrast) variation, which helps across domains.

    IBN-a  in layer1-3, every bottleneck's first normalisation (after its 1x1 conv) is split by channels: the first
           half an affine InstanceNorm (``bn1.IN``), the rest BatchNorm (``bn1.BN``); layer4 is plain.
    IBN-b  the stem normalises with an affine InstanceNorm (still named ``bn1``), and the last bottleneck of layer1 and
           of layer2 applies an affine InstanceNorm (``IN``) to its residual sum, before the ReLU.

Both keep layer4 at stride 2 (as in 1.x; ``last_stride=1`` is available) and give a 2048-d feature. The trunk is
wrapped exactly like :mod:`.resnet` (``base.0`` conv1, ``base.1`` bn1, ``base.4-7`` layer1-4) with the same head
options; 1.x checkpoints (``conv1, bn1, layer1..4``) are mapped on load by :mod:`.naming`.

``pretrained=True`` starts from torchvision's ResNet-50, as 1.x does: every tensor whose layer the variant kept.
IBN-a drops the ``bn1`` of the layer1-3 bottlenecks (split into IN + BN); IBN-b's stem InstanceNorm takes the BN's
weight and bias, not its running statistics. The new InstanceNorms keep their initialisation.
"""
import re
import types

import torch
import torch.nn as nn
from torchvision.models.resnet import Bottleneck

from .pretrained import rename_prefixes
from .resnet import TORCHVISION_RESNET_NAMES, ResNet

# (planes, blocks, stride) of layer1-4 of a ResNet-50
RESNET50_LAYERS = ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2))
VARIANTS = ('a', 'b')


class InstanceBatchNorm(nn.Module):
    """IBN-a's split normalisation: affine InstanceNorm on the first ``channels // 2`` channels (``IN``), BatchNorm on
    the rest (``BN``); (B, C, H, W) -> same shape."""

    def __init__(self, channels):
        super().__init__()
        self.half = channels // 2
        self.IN = nn.InstanceNorm2d(self.half, affine=True)
        self.BN = nn.BatchNorm2d(channels - self.half)

    def forward(self, x):
        instance_part, batch_part = torch.split(x, [self.half, x.shape[1] - self.half], dim=1)
        return torch.cat([self.IN(instance_part.contiguous()), self.BN(batch_part.contiguous())], 1)


class IBNBottleneck(Bottleneck):
    """torchvision's ResNet bottleneck (same children and names), with IBN-a's split ``bn1`` (``split_bn1``) and/or
    IBN-b's InstanceNorm ``IN`` on the residual sum (``norm_sum``)."""

    def __init__(self, in_channels, planes, stride=1, downsample=None, split_bn1=False, norm_sum=False):
        super().__init__(in_channels, planes, stride, downsample)
        if split_bn1:
            self.bn1 = InstanceBatchNorm(planes)
        self.IN = nn.InstanceNorm2d(planes * self.expansion, affine=True) if norm_sum else None

    def forward(self, x):
        shortcut = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out)) + shortcut
        if self.IN is not None:
            out = self.IN(out)
        return self.relu(out)


def build_ibn_trunk(variant):
    """The children of a ResNet-50 IBN-``variant`` trunk (conv1, bn1, relu, maxpool, layer1-4), initialised as in
    torchreid 1.x (Kaiming-normal fan-out convs, unit-weight zero-bias BN / InstanceNorm)."""
    if variant not in VARIANTS:
        raise ValueError("IBN variant must be one of {}, got {!r}".format(VARIANTS, variant))
    trunk = types.SimpleNamespace(
        conv1=nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False),
        bn1=nn.InstanceNorm2d(64, affine=True) if variant == 'b' else nn.BatchNorm2d(64),
        relu=nn.ReLU(inplace=True),
        maxpool=nn.MaxPool2d(3, stride=2, padding=1))
    in_channels = 64
    for index, (planes, num_blocks, stride) in enumerate(RESNET50_LAYERS, start=1):
        out_channels = planes * Bottleneck.expansion
        downsample = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),
                                   nn.BatchNorm2d(out_channels))
        blocks = []
        for block_index in range(num_blocks):
            blocks.append(IBNBottleneck(
                in_channels if block_index == 0 else out_channels, planes,
                stride=stride if block_index == 0 else 1,
                downsample=downsample if block_index == 0 else None,
                split_bn1=variant == 'a' and index <= 3,
                norm_sum=variant == 'b' and index <= 2 and block_index == num_blocks - 1))
        setattr(trunk, 'layer{}'.format(index), nn.Sequential(*blocks))
        in_channels = out_channels
    for child in vars(trunk).values():
        for module in child.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode='fan_out', nonlinearity='relu')
            elif isinstance(module, (nn.BatchNorm2d, nn.InstanceNorm2d)):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
    return trunk


_IBN_A_SPLIT_BN1 = re.compile(r'^layer[123]\.\d+\.bn1\.')
_BN_STATISTICS = ('running_mean', 'running_var', 'num_batches_tracked')


def torchvision_names_for(variant):
    """``name_map`` from torchvision's ResNet-50 file onto IBN-``variant`` (see the module docstring)."""
    to_ours = rename_prefixes(TORCHVISION_RESNET_NAMES, drop=('fc.',))

    def name_map(name):
        if variant == 'a' and _IBN_A_SPLIT_BN1.match(name):
            return None
        if variant == 'b' and name.startswith('bn1.') and name.split('.')[-1] in _BN_STATISTICS:
            return None
        return to_ours(name)

    return name_map


class ResNet50IBN(ResNet):
    """ResNet-50 IBN-a or IBN-b for re-id; 2048-d feature.

    Args:
        variant (str): 'a' or 'b'.
        num_classes, loss, pretrained, last_stride, pooling, neck, neck_feat: as :class:`.resnet.ResNet50`
        (``last_stride`` defaults to 2, as in 1.x).
    """

    def __init__(self, variant, num_classes, loss={'xent'}, pretrained=True, last_stride=2, pooling='avg',
                 neck='none', neck_feat=None):
        super().__init__('resnet50_ibn_' + variant, build_ibn_trunk(variant), num_classes, loss, pretrained,
                         last_stride, pooling, neck, neck_feat, imagenet_names=torchvision_names_for(variant))


# Constructors by torchreid 1.x key; as in 1.x, pretrained defaults to False for these two.

def resnet50_ibn_a(num_classes, loss={'xent'}, pretrained=False, **kwargs):
    """ResNet-50 IBN-a (torchreid 1.x's ``resnet50_ibn_a``)."""
    return ResNet50IBN('a', num_classes, loss=loss, pretrained=pretrained, **kwargs)


def resnet50_ibn_b(num_classes, loss={'xent'}, pretrained=False, **kwargs):
    """ResNet-50 IBN-b (torchreid 1.x's ``resnet50_ibn_b``)."""
    return ResNet50IBN('b', num_classes, loss=loss, pretrained=pretrained, **kwargs)
