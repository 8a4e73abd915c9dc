"""ResNet-50 / ResNet-101 (He et al. 2016) for re-id: torchvision's trunk, global pooling and a classifier.

``base`` is the torchvision ResNet's children without avgpool and fc (0 conv1, 1 bn1, 2 relu, 3 maxpool,
4-7 layer1-4), so the state_dict keys are the seed's (``base.4.0.conv1.weight``, ..., ``classifier.weight``).
Beyond the seed: ``last_stride=1`` keeps layer4 at the resolution of layer3 (the "strong baseline" trick: a 16x8
map for a 256x128 input instead of 8x4), plus the pooling / neck options of :mod:`torchreid.models.heads`.

``resnet50_fc512`` is torchreid 1.x's: last stride 1 and an embedding ``fc`` (Linear 2048 -> 512, BatchNorm1d,
ReLU) between the pooling and the head, so the feature is 512-d. torchreid 1.x names the trunk ``conv1, bn1,
layer1..4`` (torchvision's names); :mod:`torchreid.models.naming` maps its checkpoints onto ``base.*``.
"""
import torch.nn as nn
import torchvision

from .heads import ReIDModel
from .pretrained import load_imagenet_weights, rename_prefixes

# torchvision's ResNet names -> ours (the 1000-class fc is dropped)
TORCHVISION_RESNET_NAMES = [('conv1.', 'base.0.'), ('bn1.', 'base.1.'), ('layer1.', 'base.4.'),
                            ('layer2.', 'base.5.'), ('layer3.', 'base.6.'), ('layer4.', 'base.7.')]


def set_last_stride(layer4, stride):
    """Set the stride of torchvision's layer4 (its first block's 3x3 conv and downsample conv) to ``stride``."""
    if stride not in (1, 2):
        raise ValueError('last_stride must be 1 or 2, got {!r}'.format(stride))
    first_block = layer4[0]
    first_block.conv2.stride = (stride, stride)
    first_block.downsample[0].stride = (stride, stride)


class ResNet(ReIDModel):
    """A torchvision ResNet trunk + the re-id head (2048-d feature, or ``fc_dim`` with an embedding fc).

    Args:
        key (str): registry key, used to find the ImageNet weights ('resnet50', 'resnet101', ...).
        trunk (nn.Module): a freshly built torchvision ResNet, or a module with the same children (conv1, bn1, relu,
            maxpool, layer1-4 of Bottlenecks).
        fc_dim (int or None): add ``fc`` = Linear(2048, fc_dim) -> BatchNorm1d -> ReLU after the pooling
            (torchreid 1.x's ``*_fc512``), initialised as in 1.x together with the classifier.
        imagenet_names (callable or None): ``name_map`` from torchvision's names to ours for the ImageNet file
            (default: :data:`TORCHVISION_RESNET_NAMES`, dropping the 1000-class fc).
        the rest: see :class:`ResNet50`.
    """

    def __init__(self, key, trunk, num_classes, loss, pretrained, last_stride, pooling, neck, neck_feat,
                 fc_dim=None, imagenet_names=None):
        super().__init__()
        set_last_stride(trunk.layer4, last_stride)
        self.base = nn.Sequential(trunk.conv1, trunk.bn1, trunk.relu, trunk.maxpool,
                                  trunk.layer1, trunk.layer2, trunk.layer3, trunk.layer4)
        feat_dim = 2048
        self.fc = None
        if fc_dim is not None:
            self.fc = nn.Sequential(nn.Linear(2048, fc_dim), nn.BatchNorm1d(fc_dim), nn.ReLU(inplace=True))
            feat_dim = fc_dim
        self.build_head(feat_dim, num_classes, loss, pooling=pooling, neck=neck, neck_feat=neck_feat)
        if fc_dim is not None:
            self._init_embedding()
        if pretrained:
            load_imagenet_weights(self, key, imagenet_names or rename_prefixes(TORCHVISION_RESNET_NAMES,
                                                                               drop=('fc.',)))

    def _init_embedding(self):
        """torchreid 1.x's init of the fc layers: N(0, 0.01) linear weights, zero biases, unit BN (a BNNeck keeps
        its own init)."""
        layers = [self.fc[0], self.fc[1]] + ([] if self.neck == 'bnneck' else [self.classifier])
        for layer in layers:
            if isinstance(layer, nn.Linear):
                nn.init.normal_(layer.weight, std=0.01)
            else:
                nn.init.ones_(layer.weight)
            nn.init.zeros_(layer.bias)

    def forward(self, x):
        """(B, 3, H, W) images -> see :meth:`ReIDModel.head`."""
        pooled = self.pool(self.base(x))
        if self.fc is not None:
            pooled = self.fc(pooled)
        return self.head(pooled)


class ResNet50(ResNet):
    """ResNet-50 for re-id (the seed's ``resnet50``).

    Args:
        num_classes (int): number of training identities.
        loss (set): {'xent'} or {'xent', 'htri'}.
        pretrained (bool): start from torchvision's ImageNet weights (downloaded once, see
            :mod:`torchreid.models.pretrained`).
        last_stride (int): 2 (the seed) or 1.
        pooling, neck, neck_feat: see :mod:`torchreid.models.heads`.
    """

    def __init__(self, num_classes, loss={'xent'}, pretrained=True, last_stride=2, pooling='avg', neck='none',
                 neck_feat=None):
        super().__init__('resnet50', torchvision.models.resnet50(), num_classes, loss, pretrained, last_stride,
                         pooling, neck, neck_feat)


class ResNet101(ResNet):
    """ResNet-101 for re-id (the seed's ``resnet101``); arguments as :class:`ResNet50`."""

    def __init__(self, num_classes, loss={'xent'}, pretrained=True, last_stride=2, pooling='avg', neck='none',
                 neck_feat=None):
        super().__init__('resnet101', torchvision.models.resnet101(), num_classes, loss, pretrained, last_stride,
                         pooling, neck, neck_feat)


class ResNet50FC512(ResNet):
    """torchreid 1.x's ``resnet50_fc512``: ResNet-50, last stride 1, a 512-d embedding fc; 512-d feature.

    Arguments as :class:`ResNet50`; ``last_stride`` defaults to 1 as in 1.x.
    """

    def __init__(self, num_classes, loss={'xent'}, pretrained=True, last_stride=1, pooling='avg', neck='none',
                 neck_feat=None):
        super().__init__('resnet50_fc512', torchvision.models.resnet50(), num_classes, loss, pretrained,
                         last_stride, pooling, neck, neck_feat, fc_dim=512)
