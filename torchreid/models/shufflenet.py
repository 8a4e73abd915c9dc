"""ShuffleNet v1 (Zhang et al. CVPR'18), the seed's from-scratch variant.

Fixes the seed's bug: its channel shuffle divided channels by groups with true division, so ``view`` got a
float size and forward always raised TypeError. Here the shuffle is ``torch.nn.ChannelShuffle`` (integer split,
same channel order as the seed's view/transpose/view).
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

from .blocks import warn_no_imagenet_weights
from .heads import ReIDModel

# output channels of stage2, stage3, stage4 for each number of groups
STAGE_CHANNELS = {1: (144, 288, 576), 2: (200, 400, 800), 3: (240, 480, 960), 4: (272, 544, 1088),
                  8: (384, 768, 1536)}
STAGE_REPEATS = (4, 8, 4)


class Bottleneck(nn.Module):
    """ShuffleNet unit: grouped 1x1 -> shuffle -> 3x3 depthwise -> grouped 1x1.

    Stride 1: ``relu(x + branch)``. Stride 2: ``relu(cat(avgpool(x), branch))``, the branch producing
    ``out - in`` channels so the concatenation has ``out``.
    """

    def __init__(self, in_channels, out_channels, stride, groups, group_conv1x1=True):
        super().__init__()
        self.stride = stride
        mid_channels = out_channels // 4
        branch_channels = out_channels - in_channels if stride == 2 else out_channels
        self.conv1 = nn.Conv2d(in_channels, mid_channels, 1, groups=groups if group_conv1x1 else 1, bias=False)
        self.bn1 = nn.BatchNorm2d(mid_channels)
        self.shuffle1 = nn.ChannelShuffle(groups)
        self.conv2 = nn.Conv2d(mid_channels, mid_channels, 3, stride=stride, padding=1, groups=mid_channels,
                               bias=False)
        self.bn2 = nn.BatchNorm2d(mid_channels)
        self.conv3 = nn.Conv2d(mid_channels, branch_channels, 1, groups=groups, bias=False)
        self.bn3 = nn.BatchNorm2d(branch_channels)

    def forward(self, x):
        out = self.shuffle1(F.relu(self.bn1(self.conv1(x))))
        out = self.bn2(self.conv2(out))
        out = self.bn3(self.conv3(out))
        if self.stride == 2:
            shortcut = F.avg_pool2d(x, 3, stride=2, padding=1)
            return F.relu(torch.cat([shortcut, out], 1))
        return F.relu(x + out)


class ShuffleNet(ReIDModel):
    """ShuffleNet v1 for re-id; ``num_groups`` picks the channel plan (seed default 3 -> ``feat_dim`` 960).
    ``pooling``, ``neck``, ``neck_feat``: see :mod:`torchreid.models.heads`."""

    def __init__(self, num_classes, loss={'xent'}, pretrained=True, num_groups=3, pooling='avg', neck='none',
                 neck_feat=None):
        super().__init__()
        if num_groups not in STAGE_CHANNELS:
            raise ValueError('ShuffleNet num_groups must be one of {}, got {}'.format(sorted(STAGE_CHANNELS),
                                                                                     num_groups))
        self.conv1 = nn.Sequential(
            nn.Conv2d(3, 24, 3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(24),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(3, stride=2, padding=1),
        )
        in_channels = 24
        for index, (out_channels, repeats) in enumerate(zip(STAGE_CHANNELS[num_groups], STAGE_REPEATS), start=2):
            # the first unit of stage2 sees only 24 channels, too few to split into groups
            units = [Bottleneck(in_channels, out_channels, 2, num_groups, group_conv1x1=index > 2)]
            units += [Bottleneck(out_channels, out_channels, 1, num_groups) for _ in range(repeats - 1)]
            self.add_module('stage{}'.format(index), nn.Sequential(*units))
            in_channels = out_channels
        self.build_head(in_channels, num_classes, loss, pooling=pooling, neck=neck, neck_feat=neck_feat)
        if pretrained:
            warn_no_imagenet_weights('ShuffleNet')

    def featuremaps(self, x):
        """(B, 3, H, W) -> (B, feat_dim, H/32, W/32)."""
        return self.stage4(self.stage3(self.stage2(self.conv1(x))))

    def forward(self, x):
        """(B, 3, H, W) images -> see :meth:`ReIDModel.head`."""
        return self.head(self.pool(self.featuremaps(x)))
