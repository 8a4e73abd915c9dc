"""ResNet50M (Yu et al. 2017, "The Devil is in the Middle: Exploiting Mid-level Representations for Cross-Domain
Instance Matching"): ResNet-50 whose feature also fuses the mid-level outputs of layer4's first two blocks.

The torchvision ResNet-50 pieces are regrouped under the seed's names: ``layers1`` (conv1, bn1, relu), ``layers2``
(maxpool, layer1), ``layers3`` (layer2), ``layers4`` (layer3) and ``layers5a/5b/5c`` (the three blocks of layer4).
Pooled 5a and 5b (2048 each) are fused by ``fc_fuse`` = Linear(4096, 1024) + BN + ReLU; the feature is
concat(pooled 5c, fused) = 3072-d.
"""
import torch
import torch.nn as nn
import torchvision

from .heads import ReIDModel
from .pretrained import load_imagenet_weights, rename_prefixes
from .resnet import set_last_stride

TORCHVISION_RESNET50M_NAMES = [('conv1.', 'layers1.0.'), ('bn1.', 'layers1.1.'), ('layer1.', 'layers2.1.'),
                               ('layer2.', 'layers3.'), ('layer3.', 'layers4.'), ('layer4.0.', 'layers5a.'),
                               ('layer4.1.', 'layers5b.'), ('layer4.2.', 'layers5c.')]


class ResNet50M(ReIDModel):
    """ResNet50M for re-id (the seed's ``resnet50m``); 3072-d feature.

    Args:
        num_classes (int): number of training identities.
        loss (set): {'xent'} or {'xent', 'htri'}.
        pretrained (bool): start the ResNet-50 part from torchvision's ImageNet weights (``fc_fuse`` and the
            classifier are new).
        last_stride (int): stride of layers5a: 2 (the seed) or 1.
        pooling, neck, neck_feat: see :mod:`torchreid.models.heads` (the pooling applies to 5a, 5b and 5c).
    """

    def __init__(self, num_classes, loss={'xent'}, pretrained=True, last_stride=2, pooling='avg', neck='none',
                 neck_feat=None):
        super().__init__()
        trunk = torchvision.models.resnet50()
        set_last_stride(trunk.layer4, last_stride)
        self.layers1 = nn.Sequential(trunk.conv1, trunk.bn1, trunk.relu)
        self.layers2 = nn.Sequential(trunk.maxpool, trunk.layer1)
        self.layers3 = trunk.layer2
        self.layers4 = trunk.layer3
        self.layers5a = trunk.layer4[0]
        self.layers5b = trunk.layer4[1]
        self.layers5c = trunk.layer4[2]
        self.fc_fuse = nn.Sequential(nn.Linear(4096, 1024), nn.BatchNorm1d(1024), nn.ReLU(inplace=True))
        self.build_head(3072, num_classes, loss, pooling=pooling, neck=neck, neck_feat=neck_feat)
        if pretrained:
            load_imagenet_weights(self, 'resnet50m', rename_prefixes(TORCHVISION_RESNET50M_NAMES, drop=('fc.',)))

    def forward(self, x):
        """(B, 3, H, W) images -> see :meth:`ReIDModel.head` (feature = [pooled 5c (2048), fused 5a+5b (1024)])."""
        x = self.layers4(self.layers3(self.layers2(self.layers1(x))))
        x5a = self.layers5a(x)
        x5b = self.layers5b(x5a)
        x5c = self.layers5c(x5b)
        mid_level = self.fc_fuse(torch.cat([self.pool(x5a), self.pool(x5b)], dim=1))
        return self.head(torch.cat([self.pool(x5c), mid_level], dim=1))
