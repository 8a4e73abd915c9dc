"""ResNeXt-101 (32x4d) (Xie et al. 2017) for re-id, in the layout of Cadene's Torch7 conversion that the seed used.

That conversion is a tree of plain ``nn.Sequential`` s, so the state_dict keys are positional
(``features.4.0.0.0.0.0.weight``). The small modules below rebuild the tree with the same positions:

    features = [conv 7x7/2, BN, ReLU, max-pool 3x3/2, stage1 .. stage4]            (indices 0-7)
    stage    = [block, block, ...]
    block    = [Parallel(residual, shortcut), Sum(), ReLU]                         (Torch7 ConcatTable, CAddTable)
    residual = [[1x1 conv, BN, ReLU, grouped 3x3 conv, BN, ReLU], 1x1 conv, BN]
    shortcut = [1x1 conv, BN] in the first block of a stage, identity otherwise

The seed built ``features`` once at import and shared it between all instances; here every model owns its weights.
"""
import torch.nn as nn

from .heads import ReIDModel
from .pretrained import load_imagenet_weights, rename_prefixes

CARDINALITY = 32
BASE_WIDTH = 4


class Parallel(nn.ModuleList):
    """Torch7's ConcatTable: applies every branch to the same input; returns the list of outputs."""

    def forward(self, x):
        return [branch(x) for branch in self]


class Sum(nn.Module):
    """Torch7's CAddTable: the element-wise sum of a list of tensors."""

    def forward(self, tensors):
        total = tensors[0]
        for tensor in tensors[1:]:
            total = total + tensor
        return total


def resnext_block(in_channels, width, out_channels, stride):
    """One ResNeXt bottleneck as Torch7 laid it out: Sequential(Parallel(residual, shortcut), Sum(), ReLU)."""
    residual = nn.Sequential(
        nn.Sequential(
            nn.Conv2d(in_channels, width, 1, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(inplace=True),
            nn.Conv2d(width, width, 3, stride=stride, padding=1, groups=CARDINALITY, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(inplace=True),
        ),
        nn.Conv2d(width, out_channels, 1, bias=False),
        nn.BatchNorm2d(out_channels),
    )
    if stride != 1 or in_channels != out_channels:
        shortcut = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),
                                 nn.BatchNorm2d(out_channels))
    else:
        shortcut = nn.Identity()
    return nn.Sequential(Parallel([residual, shortcut]), Sum(), nn.ReLU(inplace=True))


def resnext_stage(in_channels, width, out_channels, num_blocks, stride):
    """``num_blocks`` ResNeXt blocks; the first one changes resolution and width."""
    blocks = [resnext_block(in_channels, width, out_channels, stride)]
    blocks += [resnext_block(out_channels, width, out_channels, 1) for _ in range(1, num_blocks)]
    return nn.Sequential(*blocks)


class ResNeXt101_32x4d(ReIDModel):
    """ResNeXt-101 32x4d for re-id (the seed's ``resnext101``); 2048-d feature.

    Args:
        num_classes (int): number of training identities.
        loss (set): {'xent'} or {'xent', 'htri'}.
        pretrained (bool): start from Cadene's ImageNet weights.
        last_stride (int): stride of the last stage: 2 (the seed) or 1.
        pooling, neck, neck_feat: see :mod:`torchreid.models.heads`.
    """

    def __init__(self, num_classes, loss={'xent'}, pretrained=True, last_stride=2, pooling='avg', neck='none',
                 neck_feat=None):
        super().__init__()
        if last_stride not in (1, 2):
            raise ValueError('last_stride must be 1 or 2, got {!r}'.format(last_stride))
        layers = [nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False), nn.BatchNorm2d(64), nn.ReLU(inplace=True),
                  nn.MaxPool2d(3, stride=2, padding=1)]
        in_channels = 64
        for index, (num_blocks, stride) in enumerate(zip((3, 4, 23, 3), (1, 2, 2, last_stride))):
            width = CARDINALITY * BASE_WIDTH * 2 ** index
            out_channels = 256 * 2 ** index
            layers.append(resnext_stage(in_channels, width, out_channels, num_blocks, stride))
            in_channels = out_channels
        self.features = nn.Sequential(*layers)
        self.build_head(2048, num_classes, loss, pooling=pooling, neck=neck, neck_feat=neck_feat)
        if pretrained:
            load_imagenet_weights(self, 'resnext101', rename_prefixes([('features.', 'features.')],
                                                                      drop=('last_linear.',)))

    def forward(self, x):
        """(B, 3, H, W) images -> see :meth:`ReIDModel.head`."""
        return self.head(self.pool(self.features(x)))
