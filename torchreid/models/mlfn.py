"""MLFN, Multi-Level Factorisation Net (Chang et al. CVPR'18): torchreid 1.x's ``mlfn``.

Sixteen ResNeXt-style blocks (1x1 reduce -> 3x3 conv in 32 groups -> 1x1 expand, residual). Each block has a factor
selection module (FSM): from the block's input it predicts one sigmoid weight per group, which scales that group's
channels after the grouped conv. The 16 blocks' selections (16 x 32 = 512 values) form a second, "factor signature"
descriptor. The feature is the mean of the projected pooled feature map (``fc_x``) and the projected signature
(``fc_s``): 1024-d.

    conv1 7x7/2 (with bias) + BN + ReLU + 3x3/2 max-pool -> feature (blocks: 3 x 256, 4 x 512, 6 x 1024, 3 x 2048
    channels; the first of each group but the first strides 2) -> fc_x / fc_s (1x1 conv + BN + ReLU) -> classifier

The state_dict keys are 1.x's (``feature.0.fm_conv1.weight``, ``feature.0.fsm.1.weight``, ``fc_x.0.weight``, ...),
so its checkpoints load as they are. Its ImageNet weights are published on mega.nz only and are not downloaded
(``pretrained=True`` warns with the link, as 1.x did).
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

from .heads import ReIDModel
from .pretrained import warn_manual_imagenet_weights
from .weight_init import init_like_authors

GROUPS = 32
# (out channels, number of blocks, stride of the first block, FSM hidden widths) of the four block groups
BLOCK_GROUPS = ((256, 3, 1, (128, 64)), (512, 4, 2, (256, 128)), (1024, 6, 2, (512, 128)), (2048, 3, 2, (512, 128)))
EMBED_DIM = 1024


class MLFNBlock(nn.Module):
    """Factor modules (``fm_*``) gated per group by the factor selection module (``fsm``).

    (B, in, H, W) -> ((B, out, H / stride, W / stride) block output, (B, groups, 1, 1) group selection in (0, 1)).
    """

    def __init__(self, in_channels, out_channels, stride, fsm_channels, groups=GROUPS):
        super().__init__()
        self.groups = groups
        mid_channels = out_channels // 2
        self.fm_conv1 = nn.Conv2d(in_channels, mid_channels, 1, bias=False)
        self.fm_bn1 = nn.BatchNorm2d(mid_channels)
        self.fm_conv2 = nn.Conv2d(mid_channels, mid_channels, 3, stride=stride, padding=1, groups=groups, bias=False)
        self.fm_bn2 = nn.BatchNorm2d(mid_channels)
        self.fm_conv3 = nn.Conv2d(mid_channels, out_channels, 1, bias=False)
        self.fm_bn3 = nn.BatchNorm2d(out_channels)
        # indices as 1.x's: 1, 4, 7 convs and 2, 5, 8 BNs hold the weights
        self.fsm = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Conv2d(in_channels, fsm_channels[0], 1), nn.BatchNorm2d(fsm_channels[0]), nn.ReLU(inplace=True),
            nn.Conv2d(fsm_channels[0], fsm_channels[1], 1), nn.BatchNorm2d(fsm_channels[1]), nn.ReLU(inplace=True),
            nn.Conv2d(fsm_channels[1], groups, 1), nn.BatchNorm2d(groups), nn.Sigmoid())
        self.downsample = None
        if in_channels != out_channels or stride > 1:
            self.downsample = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),
                                            nn.BatchNorm2d(out_channels))

    def forward(self, x):
        selection = self.fsm(x)
        out = F.relu(self.fm_bn1(self.fm_conv1(x)))
        out = F.relu(self.fm_bn2(self.fm_conv2(out)))
        # group g of the grouped conv holds channels [g * n, (g + 1) * n): each gets its group's weight
        out = out * selection.repeat_interleave(out.shape[1] // self.groups, dim=1)
        out = F.relu(self.fm_bn3(self.fm_conv3(out)))
        shortcut = x if self.downsample is None else self.downsample(x)
        return F.relu(shortcut + out), selection


class MLFN(ReIDModel):
    """MLFN for re-id; 1024-d feature.

    Args:
        num_classes (int): number of training identities.
        loss (set): {'xent'} or {'xent', 'htri'}.
        pretrained (bool): nothing is downloaded; True warns with the mega.nz link of the ImageNet file.
        pooling, neck, neck_feat: see :mod:`torchreid.models.heads` (the pooling applies to the last feature map).
    """

    def __init__(self, num_classes, loss={'xent'}, pretrained=True, pooling='avg', neck='none', neck_feat=None):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3)
        self.bn1 = nn.BatchNorm2d(64)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        blocks = []
        in_channels = 64
        for out_channels, num_blocks, stride, fsm_channels in BLOCK_GROUPS:
            for block_index in range(num_blocks):
                blocks.append(MLFNBlock(in_channels, out_channels, stride if block_index == 0 else 1, fsm_channels))
                in_channels = out_channels
        self.feature = nn.ModuleList(blocks)
        self.fc_x = nn.Sequential(nn.Conv2d(in_channels, EMBED_DIM, 1, bias=False), nn.BatchNorm2d(EMBED_DIM),
                                  nn.ReLU(inplace=True))
        self.fc_s = nn.Sequential(nn.Conv2d(GROUPS * len(blocks), EMBED_DIM, 1, bias=False),
                                  nn.BatchNorm2d(EMBED_DIM), nn.ReLU(inplace=True))
        self.build_head(EMBED_DIM, num_classes, loss, pooling=pooling, neck=neck, neck_feat=neck_feat)
        init_like_authors(self, keep=[self.classifier] if self.neck == 'bnneck' else [])
        if pretrained:
            warn_manual_imagenet_weights('mlfn')

    def forward(self, x):
        """(B, 3, H, W) images -> see :meth:`ReIDModel.head`."""
        x = self.maxpool(F.relu(self.bn1(self.conv1(x))))
        selections = []
        for block in self.feature:
            x, selection = block(x)
            selections.append(selection)
        pooled = self.global_pool(x)  # (B, 2048, 1, 1)
        signature = torch.cat(selections, 1)  # (B, 512, 1, 1)
        feature = (self.fc_x(pooled) + self.fc_s(signature)) * 0.5
        return self.head(feature.flatten(1))


def mlfn(num_classes, loss={'xent'}, pretrained=True, **kwargs):
    """MLFN (torchreid 1.x's ``mlfn``)."""
    return MLFN(num_classes, loss=loss, pretrained=pretrained, **kwargs)
