"""Inception-ResNet-v2 (Szegedy et al. AAAI'17) laid out as Cadene's ``pretrainedmodels`` port, so its ImageNet
weights load by name (``conv2d_1a`` ... ``conv2d_7b``). Re-id head (:mod:`torchreid.models.heads`): global average
pool (any input of at least 75x75; the seed's 256x128 gives a 6x2 last map) -> 1536-d feature -> ``classifier``.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

from .heads import ReIDModel
from .inceptionv4 import CADENE_NAME_MAP, avg_pool_3x3, basic_conv, check_min_input_size
from .pretrained import load_imagenet_weights

IMAGENET_WEIGHTS_KEY = 'inceptionresnetv2'


class Mixed5b(nn.Module):
    """192 -> 320 channels (96 + 64 + 96 + 64), same size."""

    def __init__(self):
        super().__init__()
        self.branch0 = basic_conv(192, 96, 1)
        self.branch1 = nn.Sequential(basic_conv(192, 48, 1), basic_conv(48, 64, 5, padding=2))
        self.branch2 = nn.Sequential(basic_conv(192, 64, 1), basic_conv(64, 96, 3, padding=1),
                                     basic_conv(96, 96, 3, padding=1))
        self.branch3 = nn.Sequential(avg_pool_3x3(), basic_conv(192, 64, 1))

    def forward(self, x):
        return torch.cat([self.branch0(x), self.branch1(x), self.branch2(x), self.branch3(x)], 1)


class Block35(nn.Module):
    """Inception-ResNet-A on the 35x35-grid stage (320 channels): ``relu(x + scale * conv2d(cat(branches)))``."""

    def __init__(self, scale=1.0):
        super().__init__()
        self.scale = scale
        self.branch0 = basic_conv(320, 32, 1)
        self.branch1 = nn.Sequential(basic_conv(320, 32, 1), basic_conv(32, 32, 3, padding=1))
        self.branch2 = nn.Sequential(basic_conv(320, 32, 1), basic_conv(32, 48, 3, padding=1),
                                     basic_conv(48, 64, 3, padding=1))
        self.conv2d = nn.Conv2d(128, 320, 1)

    def forward(self, x):
        residual = self.conv2d(torch.cat([self.branch0(x), self.branch1(x), self.branch2(x)], 1))
        return F.relu(x + self.scale * residual)


class Mixed6a(nn.Module):
    """320 -> 1088 channels (384 + 384 + pooled 320), half resolution."""

    def __init__(self):
        super().__init__()
        self.branch0 = basic_conv(320, 384, 3, stride=2)
        self.branch1 = nn.Sequential(basic_conv(320, 256, 1), basic_conv(256, 256, 3, padding=1),
                                     basic_conv(256, 384, 3, stride=2))
        self.branch2 = nn.MaxPool2d(3, stride=2)

    def forward(self, x):
        return torch.cat([self.branch0(x), self.branch1(x), self.branch2(x)], 1)


class Block17(nn.Module):
    """Inception-ResNet-B (1088 channels, factorised 7x7): ``relu(x + scale * conv2d(cat(branches)))``."""

    def __init__(self, scale=1.0):
        super().__init__()
        self.scale = scale
        self.branch0 = basic_conv(1088, 192, 1)
        self.branch1 = nn.Sequential(
            basic_conv(1088, 128, 1),
            basic_conv(128, 160, (1, 7), padding=(0, 3)),
            basic_conv(160, 192, (7, 1), padding=(3, 0)),
        )
        self.conv2d = nn.Conv2d(384, 1088, 1)

    def forward(self, x):
        residual = self.conv2d(torch.cat([self.branch0(x), self.branch1(x)], 1))
        return F.relu(x + self.scale * residual)


class Mixed7a(nn.Module):
    """1088 -> 2080 channels (384 + 288 + 320 + pooled 1088), half resolution."""

    def __init__(self):
        super().__init__()
        self.branch0 = nn.Sequential(basic_conv(1088, 256, 1), basic_conv(256, 384, 3, stride=2))
        self.branch1 = nn.Sequential(basic_conv(1088, 256, 1), basic_conv(256, 288, 3, stride=2))
        self.branch2 = nn.Sequential(basic_conv(1088, 256, 1), basic_conv(256, 288, 3, padding=1),
                                     basic_conv(288, 320, 3, stride=2))
        self.branch3 = nn.MaxPool2d(3, stride=2)

    def forward(self, x):
        return torch.cat([self.branch0(x), self.branch1(x), self.branch2(x), self.branch3(x)], 1)


class Block8(nn.Module):
    """Inception-ResNet-C (2080 channels, split 1x3 / 3x1): ``x + scale * conv2d(cat(branches))``, followed by a
    ReLU unless ``relu=False`` (the last block of the network)."""

    def __init__(self, scale=1.0, relu=True):
        super().__init__()
        self.scale = scale
        self.relu = relu
        self.branch0 = basic_conv(2080, 192, 1)
        self.branch1 = nn.Sequential(
            basic_conv(2080, 192, 1),
            basic_conv(192, 224, (1, 3), padding=(0, 1)),
            basic_conv(224, 256, (3, 1), padding=(1, 0)),
        )
        self.conv2d = nn.Conv2d(448, 2080, 1)

    def forward(self, x):
        out = x + self.scale * self.conv2d(torch.cat([self.branch0(x), self.branch1(x)], 1))
        return F.relu(out) if self.relu else out


class InceptionResNetV2(ReIDModel):
    """Inception-ResNet-v2 for re-id; ``feat_dim`` 1536. ``pretrained=True`` loads Cadene's ImageNet weights
    (downloaded once, see :mod:`torchreid.models.pretrained`). ``pooling``, ``neck``, ``neck_feat``: see
    :mod:`torchreid.models.heads`."""

    def __init__(self, num_classes, loss={'xent'}, pretrained=True, pooling='avg', neck='none', neck_feat=None):
        super().__init__()
        self.conv2d_1a = basic_conv(3, 32, 3, stride=2)
        self.conv2d_2a = basic_conv(32, 32, 3)
        self.conv2d_2b = basic_conv(32, 64, 3, padding=1)
        self.maxpool_3a = nn.MaxPool2d(3, stride=2)
        self.conv2d_3b = basic_conv(64, 80, 1)
        self.conv2d_4a = basic_conv(80, 192, 3)
        self.maxpool_5a = nn.MaxPool2d(3, stride=2)
        self.mixed_5b = Mixed5b()
        self.repeat = nn.Sequential(*[Block35(scale=0.17) for _ in range(10)])
        self.mixed_6a = Mixed6a()
        self.repeat_1 = nn.Sequential(*[Block17(scale=0.10) for _ in range(20)])
        self.mixed_7a = Mixed7a()
        self.repeat_2 = nn.Sequential(*[Block8(scale=0.20) for _ in range(9)])
        self.block8 = Block8(relu=False)
        self.conv2d_7b = basic_conv(2080, 1536, 1)
        self.build_head(1536, num_classes, loss, pooling=pooling, neck=neck, neck_feat=neck_feat)
        if pretrained:
            load_imagenet_weights(self, IMAGENET_WEIGHTS_KEY, CADENE_NAME_MAP)

    def featuremaps(self, x):
        """(B, 3, H, W) -> (B, 1536, ~H/40, ~W/40)."""
        x = self.conv2d_2b(self.conv2d_2a(self.conv2d_1a(x)))
        x = self.conv2d_4a(self.conv2d_3b(self.maxpool_3a(x)))
        x = self.mixed_5b(self.maxpool_5a(x))
        x = self.mixed_6a(self.repeat(x))
        x = self.mixed_7a(self.repeat_1(x))
        return self.conv2d_7b(self.block8(self.repeat_2(x)))

    def forward(self, x):
        """(B, 3, H, W) images -> see :meth:`ReIDModel.head`."""
        check_min_input_size('InceptionResNetV2', x)
        return self.head(self.pool(self.featuremaps(x)))
