"""Multi-scale deep network, MuDeep (Qian et al. ICCV'17), the seed's from-scratch version (138 M parameters).

Fixes the seed's bug: it had no eval branch, so evaluation used the 751-d logits as features (and the
{'xent', 'htri'} model returned a tuple that crashed the test loop). Here eval mode returns the 4096-d ``fc``
feature, like every other model.

The flattened fused map feeds a fully connected layer of fixed size (256 x 16 x 8 -> 4096), so the input must be
256x128 (strictly: any size whose fused map comes out 16x8); other sizes raise a ValueError saying so.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

from .blocks import ConvBlock, check_loss, train_output, warn_no_imagenet_weights

FUSED_MAP_SIZE = (16, 8)
INPUT_SIZE = (256, 128)


class ConvLayers(nn.Module):
    """Two 3x3 ConvBlocks (3 -> 48 -> 96) and a 3x3/2 max-pool: (B, 3, H, W) -> (B, 96, H/2, W/2)."""

    def __init__(self):
        super().__init__()
        self.conv1 = ConvBlock(3, 48, 3, padding=1)
        self.conv2 = ConvBlock(48, 96, 3, padding=1)

    def forward(self, x):
        return F.max_pool2d(self.conv2(self.conv1(x)), 3, stride=2, padding=1)


class MultiScaleA(nn.Module):
    """Four 24-channel streams of growing receptive field, concatenated: 96 -> 96 channels, same size."""

    def __init__(self):
        super().__init__()
        self.stream1 = nn.Sequential(ConvBlock(96, 96, 1), ConvBlock(96, 24, 3, padding=1))
        self.stream2 = nn.Sequential(nn.AvgPool2d(3, stride=1, padding=1), ConvBlock(96, 24, 1))
        self.stream3 = ConvBlock(96, 24, 1)
        self.stream4 = nn.Sequential(ConvBlock(96, 16, 1), ConvBlock(16, 24, 3, padding=1),
                                     ConvBlock(24, 24, 3, padding=1))

    def forward(self, x):
        return torch.cat([self.stream1(x), self.stream2(x), self.stream3(x), self.stream4(x)], 1)


class Reduction(nn.Module):
    """cat(max-pool, 3x3/2 conv 96, 1x1-3x3-3x3/2 conv 64): 96 -> 256 channels, half resolution."""

    def __init__(self):
        super().__init__()
        self.stream2 = ConvBlock(96, 96, 3, stride=2, padding=1)
        self.stream3 = nn.Sequential(ConvBlock(96, 48, 1), ConvBlock(48, 56, 3, padding=1),
                                     ConvBlock(56, 64, 3, stride=2, padding=1))

    def forward(self, x):
        pooled = F.max_pool2d(x, 3, stride=2, padding=1)
        return torch.cat([pooled, self.stream2(x), self.stream3(x)], 1)


class MultiScaleB(nn.Module):
    """Four 256-channel streams (pooled 1x1, 1x3/3x1 pair, 1x1, two 1x3/3x1 pairs), returned separately."""

    def __init__(self):
        super().__init__()
        self.stream1 = nn.Sequential(nn.AvgPool2d(3, stride=1, padding=1), ConvBlock(256, 256, 1))
        self.stream2 = nn.Sequential(
            ConvBlock(256, 64, 1),
            ConvBlock(64, 128, (1, 3), padding=(0, 1)),
            ConvBlock(128, 256, (3, 1), padding=(1, 0)),
        )
        self.stream3 = ConvBlock(256, 256, 1)
        self.stream4 = nn.Sequential(
            ConvBlock(256, 64, 1),
            ConvBlock(64, 64, (1, 3), padding=(0, 1)),
            ConvBlock(64, 128, (3, 1), padding=(1, 0)),
            ConvBlock(128, 128, (1, 3), padding=(0, 1)),
            ConvBlock(128, 256, (3, 1), padding=(1, 0)),
        )

    def forward(self, x):
        return self.stream1(x), self.stream2(x), self.stream3(x), self.stream4(x)


class Fusion(nn.Module):
    """Sum of the four streams, each scaled by learned per-channel weights ``a1..a4`` (initialised uniform in
    [0, 1)), then a 4x4/4 average pool (the seed's addition to the paper, to shrink the fc layer)."""

    def __init__(self, channels=256):
        super().__init__()
        self.a1 = nn.Parameter(torch.rand(1, channels, 1, 1))
        self.a2 = nn.Parameter(torch.rand(1, channels, 1, 1))
        self.a3 = nn.Parameter(torch.rand(1, channels, 1, 1))
        self.a4 = nn.Parameter(torch.rand(1, channels, 1, 1))

    def forward(self, x1, x2, x3, x4):
        fused = self.a1 * x1 + self.a2 * x2 + self.a3 * x3 + self.a4 * x4
        return F.avg_pool2d(fused, 4, stride=4)


class MuDeep(nn.Module):
    """MuDeep for re-id: (B, 3, 256, 128) -> 4096-d feature (``feat_dim``) -> ``classifier``.

    Train: logits ({'xent'}) or (logits, feature) ({'xent', 'htri'}); eval: the feature.
    """

    def __init__(self, num_classes, loss={'xent'}, pretrained=True):
        super().__init__()
        self.loss = check_loss(loss)
        self.block1 = ConvLayers()
        self.block2 = MultiScaleA()
        self.block3 = Reduction()
        self.block4 = MultiScaleB()
        self.block5 = Fusion()
        self.fc = nn.Sequential(
            nn.Linear(256 * FUSED_MAP_SIZE[0] * FUSED_MAP_SIZE[1], 4096),
            nn.BatchNorm1d(4096),
            nn.ReLU(inplace=True),
        )
        self.classifier = nn.Linear(4096, num_classes)
        self.feat_dim = 4096
        if pretrained:
            warn_no_imagenet_weights('MuDeep')

    def featuremaps(self, x):
        """(B, 3, 256, 128) -> fused (B, 256, 16, 8) map."""
        x = self.block3(self.block2(self.block1(x)))
        return self.block5(*self.block4(x))

    def forward(self, x):
        fused = self.featuremaps(x)
        if tuple(fused.shape[2:]) != FUSED_MAP_SIZE:
            raise ValueError(
                'MuDeep needs {}x{} (height x width) input images: its fc layer expects a 256x{}x{} fused map, but '
                'this {}x{} input gives {}x{}. Train and test with --height {} --width {}.'.format(
                    INPUT_SIZE[0], INPUT_SIZE[1], FUSED_MAP_SIZE[0], FUSED_MAP_SIZE[1], x.shape[2], x.shape[3],
                    fused.shape[2], fused.shape[3], INPUT_SIZE[0], INPUT_SIZE[1]))
        features = self.fc(fused.flatten(1))
        if not self.training:
            return features
        return train_output(self.loss, self.classifier(features), features)
