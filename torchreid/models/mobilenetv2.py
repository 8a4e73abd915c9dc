"""MobileNetV2 (Sandler et al. CVPR'18), width 1.0, the seed's from-scratch variant.

Pooled 1280-d feature, dropout 0.5 in training, then the head of :mod:`torchreid.models.heads` (the seed's:
``classifier`` on the feature). State_dict keys are the seed's
(``block3.0.conv1.conv.weight``, ``block3.0.conv3.0.weight``, ...).
"""
import torch.nn as nn
import torch.nn.functional as F

from .blocks import ConvBlock, warn_no_imagenet_weights
from .heads import ReIDModel

# (expansion t, out channels, repeats n, stride of the first unit) of block2 ... block8
BLOCK_SETTINGS = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2),
                  (6, 320, 1, 1)]


class Bottleneck(nn.Module):
    """Inverted residual: 1x1 expand (ReLU6) -> 3x3 depthwise (ReLU6, carries the stride) -> 1x1 linear
    projection, plus the identity when the shape is unchanged."""

    def __init__(self, in_channels, out_channels, expansion, stride):
        super().__init__()
        mid_channels = in_channels * expansion
        self.use_residual = stride == 1 and in_channels == out_channels
        self.conv1 = ConvBlock(in_channels, mid_channels, 1, bias=False, activation=nn.ReLU6)
        self.dwconv2 = ConvBlock(mid_channels, mid_channels, 3, stride=stride, padding=1, groups=mid_channels,
                                 bias=False, activation=nn.ReLU6)
        self.conv3 = nn.Sequential(nn.Conv2d(mid_channels, out_channels, 1, bias=False),
                                   nn.BatchNorm2d(out_channels))

    def forward(self, x):
        out = self.conv3(self.dwconv2(self.conv1(x)))
        return out + x if self.use_residual else out


class MobileNetV2(ReIDModel):
    """MobileNetV2 for re-id; ``feat_dim`` 1280. ``pooling``, ``neck``, ``neck_feat``: see
    :mod:`torchreid.models.heads`."""

    def __init__(self, num_classes, loss={'xent'}, pretrained=True, pooling='avg', neck='none', neck_feat=None):
        super().__init__()
        self.conv1 = ConvBlock(3, 32, 3, stride=2, padding=1, bias=False, activation=nn.ReLU6)
        in_channels = 32
        for index, (expansion, out_channels, repeats, stride) in enumerate(BLOCK_SETTINGS, start=2):
            units = []
            for unit_index in range(repeats):
                units.append(Bottleneck(in_channels, out_channels, expansion, stride if unit_index == 0 else 1))
                in_channels = out_channels
            # single-unit blocks are the unit itself (keys block2.conv1..., not block2.0.conv1...)
            self.add_module('block{}'.format(index), units[0] if repeats == 1 else nn.Sequential(*units))
        self.conv9 = ConvBlock(320, 1280, 1, bias=False, activation=nn.ReLU6)
        self.build_head(1280, num_classes, loss, pooling=pooling, neck=neck, neck_feat=neck_feat)
        if pretrained:
            warn_no_imagenet_weights('MobileNetV2')

    def featuremaps(self, x):
        """(B, 3, H, W) -> (B, 1280, H/32, W/32)."""
        x = self.conv1(x)
        for index in range(2, 9):
            x = getattr(self, 'block{}'.format(index))(x)
        return self.conv9(x)

    def forward(self, x):
        """(B, 3, H, W) images -> see :meth:`ReIDModel.head`."""
        return self.head(F.dropout(self.pool(self.featuremaps(x)), p=0.5, training=self.training))
