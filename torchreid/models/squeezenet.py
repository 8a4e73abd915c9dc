"""SqueezeNet v1.0 with simple bypass (Iandola et al. 2016), the seed's from-scratch variant.

Kept as the seed built it, so its checkpoints load: there is no classifier layer. ``conv10`` (1x1, 512 -> C) + ReLU
+ global average pool gives a C-dim vector that is both the logits and the retrieval feature, so ``feat_dim`` equals
``num_classes`` and fixbase (which freezes everything but ``classifier``) does not apply.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

from .blocks import ConvBlock, check_loss, train_output, warn_no_imagenet_weights

# (in, squeeze, expand 1x1, expand 3x3) of fire2 ... fire9
FIRE_CHANNELS = [
    (96, 16, 64, 64), (128, 16, 64, 64), (128, 32, 128, 128), (256, 32, 128, 128),
    (256, 48, 192, 192), (384, 48, 192, 192), (384, 64, 256, 256), (512, 64, 256, 256),
]


class ExpandLayer(nn.Module):
    """Concatenation of a 1x1 and a 3x3 ConvBlock over the squeezed map."""

    def __init__(self, in_channels, e1_channels, e3_channels):
        super().__init__()
        self.conv11 = ConvBlock(in_channels, e1_channels, 1)
        self.conv33 = ConvBlock(in_channels, e3_channels, 3, padding=1)

    def forward(self, x):
        return torch.cat([self.conv11(x), self.conv33(x)], 1)


class FireModule(nn.Module):
    """1x1 squeeze ConvBlock, then the expand layer: (B, in, H, W) -> (B, e1 + e3, H, W)."""

    def __init__(self, in_channels, squeeze_channels, e1_channels, e3_channels):
        super().__init__()
        self.squeeze = ConvBlock(in_channels, squeeze_channels, 1)
        self.expand = ExpandLayer(squeeze_channels, e1_channels, e3_channels)

    def forward(self, x):
        return self.expand(self.squeeze(x))


class SqueezeNet(nn.Module):
    """SqueezeNet for re-id. Train: C-dim pooled scores (``{'xent'}``) or that same tensor twice
    (``{'xent', 'htri'}``); eval: the C-dim scores as the feature. ``bypass`` adds the identity shortcuts
    around fire3, fire5, fire7 and fire9."""

    def __init__(self, num_classes, loss={'xent'}, pretrained=True, bypass=True):
        super().__init__()
        self.loss = check_loss(loss)
        self.bypass = bypass
        self.conv1 = ConvBlock(3, 96, 7, stride=2, padding=2)
        for index, channels in enumerate(FIRE_CHANNELS, start=2):
            self.add_module('fire{}'.format(index), FireModule(*channels))
        self.conv10 = nn.Conv2d(512, num_classes, 1)
        self.feat_dim = num_classes
        if pretrained:
            warn_no_imagenet_weights('SqueezeNet')

    def forward(self, x):
        x = F.max_pool2d(self.conv1(x), 3, stride=2)
        x = self.fire2(x)
        x = self._fire(self.fire3, x)
        x = F.max_pool2d(self.fire4(x), 3, stride=2)
        x = self._fire(self.fire5, x)
        x = self.fire6(x)
        x = self._fire(self.fire7, x)
        x = F.max_pool2d(self.fire8(x), 3, stride=2)
        x = self._fire(self.fire9, x)
        x = F.dropout(x, p=0.5, training=self.training)
        scores = F.relu(self.conv10(x))
        scores = F.adaptive_avg_pool2d(scores, 1).flatten(1)
        if not self.training:
            return scores
        return train_output(self.loss, scores, scores)

    def _fire(self, fire, x):
        out = fire(x)
        return out + x if self.bypass else out
