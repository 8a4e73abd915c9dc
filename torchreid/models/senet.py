"""SE-ResNet-50/101 and SE-ResNeXt-50/101 (32x4d) (Hu et al. 2018, "Squeeze-and-Excitation Networks") for re-id.

The structure and names follow Cadene's ``pretrainedmodels`` SENet, which the seed copied, so its ImageNet files and
the seed's checkpoints load: ``base.0`` is layer0 (7x7/2 conv, BN, ReLU, 3x3/2 max-pool with ceil_mode), ``base.1``
to ``base.4`` are layer1-4, then global pooling and ``classifier``. Every bottleneck scales its residual branch by a
squeeze-and-excitation gate (reduction 16) before adding the shortcut. SE-ResNet puts the stride on the first 1x1
conv; SE-ResNeXt uses grouped 3x3 convs (32 groups, width floor(planes * 4 / 64) * 32) carrying the stride.
"""
import math
from collections import OrderedDict

import torch.nn as nn

from .heads import ReIDModel
from .pretrained import load_imagenet_weights, rename_prefixes

CADENE_SENET_NAMES = [('layer0.', 'base.0.'), ('layer1.', 'base.1.'), ('layer2.', 'base.2.'), ('layer3.', 'base.3.'),
                      ('layer4.', 'base.4.')]


class SEModule(nn.Module):
    """Squeeze-and-excitation gate: x * sigmoid(fc2(relu(fc1(avgpool(x))))), fc = 1x1 convs c -> c/r -> c."""

    def __init__(self, channels, reduction):
        super().__init__()
        self.avg_pool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(channels, channels // reduction, kernel_size=1)
        self.relu = nn.ReLU(inplace=True)
        self.fc2 = nn.Conv2d(channels // reduction, channels, kernel_size=1)
        self.sigmoid = nn.Sigmoid()

    def forward(self, x):
        gate = self.sigmoid(self.fc2(self.relu(self.fc1(self.avg_pool(x)))))
        return x * gate


class SEBottleneck(nn.Module):
    """1x1 -> 3x3 -> 1x1 (x4 channels) bottleneck whose output is SE-gated before the shortcut is added.

    Subclasses decide the width and where the stride goes by building ``conv1`` and ``conv2``.
    """
    expansion = 4

    def _build(self, inplanes, width, planes, conv1_stride, conv2_stride, groups, reduction, downsample):
        self.conv1 = nn.Conv2d(inplanes, width, kernel_size=1, stride=conv1_stride, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, kernel_size=3, stride=conv2_stride, padding=1, groups=groups,
                               bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, planes * self.expansion, kernel_size=1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.se_module = SEModule(planes * self.expansion, reduction)
        self.downsample = downsample

    def forward(self, x):
        shortcut = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(self.se_module(out) + shortcut)


class SEResNetBottleneck(SEBottleneck):
    """SE-ResNet bottleneck: width = planes, stride on the first 1x1 conv (Cadene's layout)."""

    def __init__(self, inplanes, planes, groups, reduction, stride=1, downsample=None):
        super().__init__()
        self._build(inplanes, planes, planes, stride, 1, groups, reduction, downsample)


class SEResNeXtBottleneck(SEBottleneck):
    """SE-ResNeXt bottleneck: width = floor(planes * base_width / 64) * groups, stride on the grouped 3x3 conv."""

    def __init__(self, inplanes, planes, groups, reduction, stride=1, downsample=None, base_width=4):
        super().__init__()
        width = math.floor(planes * base_width / 64) * groups
        self._build(inplanes, width, planes, 1, stride, groups, reduction, downsample)


def _make_layer(block, inplanes, planes, num_blocks, groups, reduction, stride):
    """``num_blocks`` bottlenecks; the first changes resolution/width with a 1x1 conv + BN shortcut."""
    downsample = None
    if stride != 1 or inplanes != planes * block.expansion:
        downsample = nn.Sequential(
            nn.Conv2d(inplanes, planes * block.expansion, kernel_size=1, stride=stride, bias=False),
            nn.BatchNorm2d(planes * block.expansion))
    blocks = [block(inplanes, planes, groups, reduction, stride, downsample)]
    blocks += [block(planes * block.expansion, planes, groups, reduction) for _ in range(1, num_blocks)]
    return nn.Sequential(*blocks)


class SENet(ReIDModel):
    """SENet trunk (layer0 .. layer4 as ``base``) + the re-id head (2048-d feature).

    Args:
        key (str): registry key, used to find the ImageNet weights.
        block (type): SEResNetBottleneck or SEResNeXtBottleneck.
        layers (list of int): blocks per stage ([3, 4, 6, 3] or [3, 4, 23, 3]).
        groups (int): 1 (SE-ResNet) or 32 (SE-ResNeXt).
        the rest: see :class:`SEResNet50`.
    """

    def __init__(self, key, block, layers, groups, num_classes, loss, pretrained, last_stride, pooling, neck,
                 neck_feat, reduction=16):
        super().__init__()
        if last_stride not in (1, 2):
            raise ValueError('last_stride must be 1 or 2, got {!r}'.format(last_stride))
        layer0 = nn.Sequential(OrderedDict([
            ('conv1', nn.Conv2d(3, 64, kernel_size=7, stride=2, padding=3, bias=False)),
            ('bn1', nn.BatchNorm2d(64)),
            ('relu1', nn.ReLU(inplace=True)),
            ('pool', nn.MaxPool2d(3, stride=2, ceil_mode=True)),
        ]))
        stages = [layer0]
        inplanes = 64
        for planes, num_blocks, stride in zip((64, 128, 256, 512), layers, (1, 2, 2, last_stride)):
            stages.append(_make_layer(block, inplanes, planes, num_blocks, groups, reduction, stride))
            inplanes = planes * block.expansion
        self.base = nn.Sequential(*stages)
        self.build_head(2048, num_classes, loss, pooling=pooling, neck=neck, neck_feat=neck_feat)
        if pretrained:
            load_imagenet_weights(self, key, rename_prefixes(CADENE_SENET_NAMES, drop=('last_linear.',)))

    def forward(self, x):
        """(B, 3, H, W) images -> see :meth:`ReIDModel.head`."""
        return self.head(self.pool(self.base(x)))


class SEResNet50(SENet):
    """SE-ResNet-50 for re-id (the seed's ``seresnet50``).

    Args:
        num_classes (int): number of training identities.
        loss (set): {'xent'} or {'xent', 'htri'}.
        pretrained (bool): start from Cadene's ImageNet weights.
        last_stride (int): stride of layer4: 2 (the seed) or 1.
        pooling, neck, neck_feat: see :mod:`torchreid.models.heads`.
    """

    def __init__(self, num_classes, loss={'xent'}, pretrained=True, last_stride=2, pooling='avg', neck='none',
                 neck_feat=None):
        super().__init__('seresnet50', SEResNetBottleneck, [3, 4, 6, 3], 1, num_classes, loss, pretrained,
                         last_stride, pooling, neck, neck_feat)


class SEResNet101(SENet):
    """SE-ResNet-101 for re-id (the seed's ``seresnet101``); arguments as :class:`SEResNet50`."""

    def __init__(self, num_classes, loss={'xent'}, pretrained=True, last_stride=2, pooling='avg', neck='none',
                 neck_feat=None):
        super().__init__('seresnet101', SEResNetBottleneck, [3, 4, 23, 3], 1, num_classes, loss, pretrained,
                         last_stride, pooling, neck, neck_feat)


class SEResNeXt50(SENet):
    """SE-ResNeXt-50 (32x4d) for re-id (the seed's ``seresnext50``); arguments as :class:`SEResNet50`."""

    def __init__(self, num_classes, loss={'xent'}, pretrained=True, last_stride=2, pooling='avg', neck='none',
                 neck_feat=None):
        super().__init__('seresnext50', SEResNeXtBottleneck, [3, 4, 6, 3], 32, num_classes, loss, pretrained,
                         last_stride, pooling, neck, neck_feat)


class SEResNeXt101(SENet):
    """SE-ResNeXt-101 (32x4d) for re-id (the seed's ``seresnext101``); arguments as :class:`SEResNet50`."""

    def __init__(self, num_classes, loss={'xent'}, pretrained=True, last_stride=2, pooling='avg', neck='none',
                 neck_feat=None):
        super().__init__('seresnext101', SEResNeXtBottleneck, [3, 4, 23, 3], 32, num_classes, loss, pretrained,
                         last_stride, pooling, neck, neck_feat)
