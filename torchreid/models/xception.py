"""Xception (Chollet CVPR'17), the seed's from-scratch variant.

Deviates from the paper as the seed did (kept so its checkpoints mean the same thing): the entry-flow stems are
ReLU6 conv blocks, and each middle-flow block is three ReLU -> separable conv steps with no residual addition.
"""
import torch.nn as nn
import torch.nn.functional as F

from .blocks import ConvBlock, warn_no_imagenet_weights
from .heads import ReIDModel


class SepConv(nn.Module):
    """Depthwise 3x3 conv + BN, then pointwise 1x1 conv + BN (no activation)."""

    def __init__(self, in_channels, out_channels):
        super().__init__()
        self.conv1 = nn.Sequential(nn.Conv2d(in_channels, in_channels, 3, padding=1, groups=in_channels, bias=False),
                                   nn.BatchNorm2d(in_channels))
        self.conv2 = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, bias=False),
                                   nn.BatchNorm2d(out_channels))

    def forward(self, x):
        return self.conv2(self.conv1(x))


def strided_shortcut(in_channels, out_channels):
    """1x1 stride-2 conv + BN that matches a residual stage's downsampled output."""
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, stride=2, bias=False), nn.BatchNorm2d(out_channels))


def entry_stage(in_channels, out_channels, relu_first):
    """[ReLU] -> SepConv -> ReLU -> SepConv -> 3x3/2 max-pool (the residual branch of an entry-flow stage)."""
    layers = [nn.ReLU()] if relu_first else []
    layers += [SepConv(in_channels, out_channels), nn.ReLU(), SepConv(out_channels, out_channels),
               nn.MaxPool2d(3, stride=2, padding=1)]
    return nn.Sequential(*layers)


class EntryFlow(nn.Module):
    """Two ReLU6 conv blocks then three residual stages, each halving the resolution: (B, 3, H, W) ->
    (B, 728, H/16, W/16)."""

    def __init__(self, channels=(32, 64, 128, 256, 728)):
        super().__init__()
        self.conv1 = ConvBlock(3, channels[0], 3, stride=2, padding=1, bias=False, activation=nn.ReLU6)
        self.conv2 = ConvBlock(channels[0], channels[1], 3, padding=1, bias=False, activation=nn.ReLU6)
        self.conv3 = entry_stage(channels[1], channels[2], relu_first=False)
        self.conv3s = strided_shortcut(channels[1], channels[2])
        self.conv4 = entry_stage(channels[2], channels[3], relu_first=True)
        self.conv4s = strided_shortcut(channels[2], channels[3])
        self.conv5 = entry_stage(channels[3], channels[4], relu_first=True)
        self.conv5s = strided_shortcut(channels[3], channels[4])

    def forward(self, x):
        x = self.conv2(self.conv1(x))
        x = self.conv3(x) + self.conv3s(x)
        x = self.conv4(x) + self.conv4s(x)
        return self.conv5(x) + self.conv5s(x)


class MidFlowBlock(nn.Module):
    """Three ReLU -> SepConv steps (no residual, as in the seed)."""

    def __init__(self, in_channels, out_channels):
        super().__init__()
        self.conv1 = SepConv(in_channels, out_channels)
        self.conv2 = SepConv(out_channels, out_channels)
        self.conv3 = SepConv(out_channels, out_channels)

    def forward(self, x):
        x = self.conv1(F.relu(x))
        x = self.conv2(F.relu(x))
        return self.conv3(F.relu(x))


class MidFlow(nn.Module):
    def __init__(self, channels, num_blocks):
        super().__init__()
        self.blocks = nn.Sequential(*[MidFlowBlock(channels, channels) for _ in range(num_blocks)])

    def forward(self, x):
        return self.blocks(x)


class ExitFlow(nn.Module):
    """Residual stage 728 -> 1024 (halving the resolution), then two SepConv + ReLU to 2048."""

    def __init__(self, in_channels=728, channels=(728, 1024, 1536, 2048)):
        super().__init__()
        self.conv1 = SepConv(in_channels, channels[0])
        self.conv2 = SepConv(channels[0], channels[1])
        self.conv2s = strided_shortcut(in_channels, channels[1])
        self.conv3 = SepConv(channels[1], channels[2])
        self.conv4 = SepConv(channels[2], channels[3])

    def forward(self, x):
        out = self.conv2(F.relu(self.conv1(F.relu(x))))
        out = F.max_pool2d(out, 3, stride=2, padding=1) + self.conv2s(x)
        out = F.relu(self.conv3(out))
        return F.relu(self.conv4(out))


class Xception(ReIDModel):
    """Xception for re-id; ``feat_dim`` 2048. ``num_mid_flows`` middle-flow blocks (seed: 8). ``pooling``,
    ``neck``, ``neck_feat``: see :mod:`torchreid.models.heads`."""

    def __init__(self, num_classes, loss={'xent'}, pretrained=True, num_mid_flows=8, pooling='avg', neck='none',
                 neck_feat=None):
        super().__init__()
        self.entryflow = EntryFlow()
        self.midflow = MidFlow(728, num_mid_flows)
        self.exitflow = ExitFlow()
        self.build_head(2048, num_classes, loss, pooling=pooling, neck=neck, neck_feat=neck_feat)
        if pretrained:
            warn_no_imagenet_weights('Xception')

    def featuremaps(self, x):
        """(B, 3, H, W) -> (B, 2048, H/32, W/32)."""
        return self.exitflow(self.midflow(self.entryflow(x)))

    def forward(self, x):
        """(B, 3, H, W) images -> see :meth:`ReIDModel.head`."""
        return self.head(self.pool(self.featuremaps(x)))
