"""Inception-v4 (Szegedy et al. AAAI'17) laid out as Cadene's ``pretrainedmodels`` port, so its ImageNet weights
load by name: ``features`` is a 22-module Sequential (stem, Mixed_3a/4a/5a, 4 x Inception-A, Reduction-A,
7 x Inception-B, Reduction-B, 3 x Inception-C). Re-id head (:mod:`torchreid.models.heads`): global average pool (any input of at least 75x75; the seed's 256x128
gives a 6x2 last map) -> 1536-d feature -> ``classifier``.

Cadene's weight files use these same names, plus the ImageNet ``last_linear`` (1001 classes for Inception-v4, row 0
being TensorFlow's background class), which is dropped.
"""
import torch
import torch.nn as nn

from .blocks import ConvBlock
from .heads import ReIDModel
from .pretrained import load_imagenet_weights, rename_prefixes

IMAGENET_WEIGHTS_KEY = 'inceptionv4'
# Cadene's names are ours; only the ImageNet classifier is dropped (shared with inceptionresnetv2 and nasnet)
CADENE_NAME_MAP = rename_prefixes([('', '')], drop=('last_linear.',))
# the valid convolutions and stride-2 reductions need at least this many pixels in each dimension
MIN_INPUT_SIZE = 75


def basic_conv(in_channels, out_channels, kernel_size, stride=1, padding=0):
    """Cadene's BasicConv2d: conv (no bias) -> BN (eps 1e-3) -> ReLU, children ``conv``/``bn``."""
    return ConvBlock(in_channels, out_channels, kernel_size, stride=stride, padding=padding, bias=False,
                     bn_eps=1e-3)


def avg_pool_3x3():
    """3x3 stride-1 average pool that keeps the size and ignores the zero padding."""
    return nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)


class Mixed3a(nn.Module):
    """cat(3x3/2 max-pool, 3x3/2 conv 64 -> 96): 64 -> 160 channels, half resolution."""

    def __init__(self):
        super().__init__()
        self.maxpool = nn.MaxPool2d(3, stride=2)
        self.conv = basic_conv(64, 96, 3, stride=2)

    def forward(self, x):
        return torch.cat([self.maxpool(x), self.conv(x)], 1)


class Mixed4a(nn.Module):
    """Two conv towers ending in valid 3x3 convs: 160 -> 192 channels, size - 2."""

    def __init__(self):
        super().__init__()
        self.branch0 = nn.Sequential(basic_conv(160, 64, 1), basic_conv(64, 96, 3))
        self.branch1 = nn.Sequential(
            basic_conv(160, 64, 1),
            basic_conv(64, 64, (1, 7), padding=(0, 3)),
            basic_conv(64, 64, (7, 1), padding=(3, 0)),
            basic_conv(64, 96, 3),
        )

    def forward(self, x):
        return torch.cat([self.branch0(x), self.branch1(x)], 1)


class Mixed5a(nn.Module):
    """cat(3x3/2 conv 192, 3x3/2 max-pool): 192 -> 384 channels, half resolution."""

    def __init__(self):
        super().__init__()
        self.conv = basic_conv(192, 192, 3, stride=2)
        self.maxpool = nn.MaxPool2d(3, stride=2)

    def forward(self, x):
        return torch.cat([self.conv(x), self.maxpool(x)], 1)


class InceptionA(nn.Module):
    """384 -> 384 channels (96 per branch), same size."""

    def __init__(self):
        super().__init__()
        self.branch0 = basic_conv(384, 96, 1)
        self.branch1 = nn.Sequential(basic_conv(384, 64, 1), basic_conv(64, 96, 3, padding=1))
        self.branch2 = nn.Sequential(basic_conv(384, 64, 1), basic_conv(64, 96, 3, padding=1),
                                     basic_conv(96, 96, 3, padding=1))
        self.branch3 = nn.Sequential(avg_pool_3x3(), basic_conv(384, 96, 1))

    def forward(self, x):
        return torch.cat([self.branch0(x), self.branch1(x), self.branch2(x), self.branch3(x)], 1)


class ReductionA(nn.Module):
    """384 -> 1024 channels (384 + 256 + pooled 384), half resolution."""

    def __init__(self):
        super().__init__()
        self.branch0 = basic_conv(384, 384, 3, stride=2)
        self.branch1 = nn.Sequential(basic_conv(384, 192, 1), basic_conv(192, 224, 3, padding=1),
                                     basic_conv(224, 256, 3, stride=2))
        self.branch2 = nn.MaxPool2d(3, stride=2)

    def forward(self, x):
        return torch.cat([self.branch0(x), self.branch1(x), self.branch2(x)], 1)


class InceptionB(nn.Module):
    """1024 -> 1024 channels (384 + 256 + 256 + 128) with factorised 7x7 convs, same size."""

    def __init__(self):
        super().__init__()
        self.branch0 = basic_conv(1024, 384, 1)
        self.branch1 = nn.Sequential(
            basic_conv(1024, 192, 1),
            basic_conv(192, 224, (1, 7), padding=(0, 3)),
            basic_conv(224, 256, (7, 1), padding=(3, 0)),
        )
        self.branch2 = nn.Sequential(
            basic_conv(1024, 192, 1),
            basic_conv(192, 192, (7, 1), padding=(3, 0)),
            basic_conv(192, 224, (1, 7), padding=(0, 3)),
            basic_conv(224, 224, (7, 1), padding=(3, 0)),
            basic_conv(224, 256, (1, 7), padding=(0, 3)),
        )
        self.branch3 = nn.Sequential(avg_pool_3x3(), basic_conv(1024, 128, 1))

    def forward(self, x):
        return torch.cat([self.branch0(x), self.branch1(x), self.branch2(x), self.branch3(x)], 1)


class ReductionB(nn.Module):
    """1024 -> 1536 channels (192 + 320 + pooled 1024), half resolution."""

    def __init__(self):
        super().__init__()
        self.branch0 = nn.Sequential(basic_conv(1024, 192, 1), basic_conv(192, 192, 3, stride=2))
        self.branch1 = nn.Sequential(
            basic_conv(1024, 256, 1),
            basic_conv(256, 256, (1, 7), padding=(0, 3)),
            basic_conv(256, 320, (7, 1), padding=(3, 0)),
            basic_conv(320, 320, 3, stride=2),
        )
        self.branch2 = nn.MaxPool2d(3, stride=2)

    def forward(self, x):
        return torch.cat([self.branch0(x), self.branch1(x), self.branch2(x)], 1)


class InceptionC(nn.Module):
    """1536 -> 1536 channels (256 + 2 x 256 + 2 x 256 + 256) with split 1x3 / 3x1 heads, same size."""

    def __init__(self):
        super().__init__()
        self.branch0 = basic_conv(1536, 256, 1)
        self.branch1_0 = basic_conv(1536, 384, 1)
        self.branch1_1a = basic_conv(384, 256, (1, 3), padding=(0, 1))
        self.branch1_1b = basic_conv(384, 256, (3, 1), padding=(1, 0))
        self.branch2_0 = basic_conv(1536, 384, 1)
        self.branch2_1 = basic_conv(384, 448, (3, 1), padding=(1, 0))
        self.branch2_2 = basic_conv(448, 512, (1, 3), padding=(0, 1))
        self.branch2_3a = basic_conv(512, 256, (1, 3), padding=(0, 1))
        self.branch2_3b = basic_conv(512, 256, (3, 1), padding=(1, 0))
        self.branch3 = nn.Sequential(avg_pool_3x3(), basic_conv(1536, 256, 1))

    def forward(self, x):
        x1 = self.branch1_0(x)
        x2 = self.branch2_2(self.branch2_1(self.branch2_0(x)))
        return torch.cat([
            self.branch0(x),
            self.branch1_1a(x1), self.branch1_1b(x1),
            self.branch2_3a(x2), self.branch2_3b(x2),
            self.branch3(x),
        ], 1)


def check_min_input_size(model_name, x):
    """Raise a ValueError naming the minimum when ``x`` (B, 3, H, W) is too small for the Inception trunks."""
    if min(x.shape[2:]) < MIN_INPUT_SIZE:
        raise ValueError('{} needs input images of at least {}x{} pixels, got {}x{}; use larger --height/--width.'
                         .format(model_name, MIN_INPUT_SIZE, MIN_INPUT_SIZE, x.shape[2], x.shape[3]))


def inceptionv4_features():
    """The 22-module Inception-v4 trunk: (B, 3, H, W) -> (B, 1536, ~H/40, ~W/40)."""
    return nn.Sequential(
        basic_conv(3, 32, 3, stride=2),
        basic_conv(32, 32, 3),
        basic_conv(32, 64, 3, padding=1),
        Mixed3a(),
        Mixed4a(),
        Mixed5a(),
        *[InceptionA() for _ in range(4)],
        ReductionA(),
        *[InceptionB() for _ in range(7)],
        ReductionB(),
        *[InceptionC() for _ in range(3)],
    )


class InceptionV4ReID(ReIDModel):
    """Inception-v4 for re-id; ``feat_dim`` 1536. ``pretrained=True`` loads Cadene's ImageNet weights into
    ``features`` (downloaded once, see :mod:`torchreid.models.pretrained`). ``pooling``, ``neck``, ``neck_feat``:
    see :mod:`torchreid.models.heads`."""

    def __init__(self, num_classes, loss={'xent'}, pretrained=True, pooling='avg', neck='none', neck_feat=None):
        super().__init__()
        self.features = inceptionv4_features()
        self.build_head(1536, num_classes, loss, pooling=pooling, neck=neck, neck_feat=neck_feat)
        if pretrained:
            load_imagenet_weights(self, IMAGENET_WEIGHTS_KEY, CADENE_NAME_MAP)

    def forward(self, x):
        """(B, 3, H, W) images -> see :meth:`ReIDModel.head`."""
        check_min_input_size('InceptionV4', x)
        return self.head(self.pool(self.features(x)))
