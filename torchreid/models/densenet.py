"""DenseNet-121 (Huang et al. 2017) for re-id: torchvision's ``features`` as ``base``, global pooling, classifier.

As in the seed, the feature is pooled straight after ``norm5``, with no ReLU in between (torchvision's own
classifier path applies one). 1024-d feature. Checkpoints written under torchvision 0.2 name the dense-layer
children ``norm.1``, ``conv.1``, ...; :func:`torchreid.utils.checkpoint.extract_state_dict` renames them.
"""
import torchvision

from ..utils.checkpoint import rename_old_densenet_key
from .heads import ReIDModel
from .pretrained import load_imagenet_weights, rename_prefixes


def _torchvision_densenet_name_map():
    """torchvision's DenseNet file (old dotted names) -> ours: 'features.' -> 'base.', classifier dropped."""
    by_prefix = rename_prefixes([('features.', 'base.')], drop=('classifier.',))
    return lambda name: by_prefix(rename_old_densenet_key(name))


class DenseNet121(ReIDModel):
    """DenseNet-121 for re-id (the seed's ``densenet121``).

    Args:
        num_classes (int): number of training identities.
        loss (set): {'xent'} or {'xent', 'htri'}.
        pretrained (bool): start from torchvision's ImageNet weights.
        pooling, neck, neck_feat: see :mod:`torchreid.models.heads`.
    """

    def __init__(self, num_classes, loss={'xent'}, pretrained=True, pooling='avg', neck='none', neck_feat=None):
        super().__init__()
        self.base = torchvision.models.densenet121().features
        self.build_head(1024, num_classes, loss, pooling=pooling, neck=neck, neck_feat=neck_feat)
        if pretrained:
            load_imagenet_weights(self, 'densenet121', _torchvision_densenet_name_map())

    def forward(self, x):
        """(B, 3, H, W) images -> see :meth:`ReIDModel.head`."""
        return self.head(self.pool(self.base(x)))
