"""MobileNetV2 (Sandler et al. CVPR'18): the seed's ``mobilenetv2`` and torchreid 1.x's ``mobilenetv2_x1_0`` /
``mobilenetv2_x1_4``.

Pooled feature (1280-d; ``int(1280 * width)`` for widths above 1), then the head of :mod:`torchreid.models.heads`
(the seed's: ``classifier`` on the feature). State_dict keys are the seed's (``block3.0.conv1.conv.weight``,
``block3.0.conv3.0.weight``, ...; single-unit blocks 2 and 8 unwrapped: ``block2.conv1.conv.weight``).

The seed's ``mobilenetv2`` and 1.x's ``mobilenetv2_x1_0`` are the same network in eval mode (same layers, same
eval features from the same weights); they differ in training: the seed applies dropout 0.5 to the feature before
the classifier, 1.x none, and 1.x initialises like its other own models (:mod:`.weight_init`) where the seed keeps
PyTorch's defaults. 1.x names the blocks ``conv2..conv8`` (each a Sequential, ``conv2.0.conv1.conv.weight``);
:mod:`.naming` maps its checkpoints onto ours. Widths scale every channel count with ``int(c * width)``, as in 1.x
(x1.4: stem 44, blocks 22, 33, 44, 89, 134, 224, 448 channels, feature 1792).
"""
import torch.nn as nn
import torch.nn.functional as F

from .blocks import ConvBlock, warn_no_imagenet_weights
from .heads import ReIDModel
from .pretrained import warn_manual_imagenet_weights
from .weight_init import init_like_authors

# (expansion t, out channels, repeats n, stride of the first unit) of block2 ... block8
BLOCK_SETTINGS = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2),
                  (6, 320, 1, 1)]


class Bottleneck(nn.Module):
    """Inverted residual: 1x1 expand (ReLU6) -> 3x3 depthwise (ReLU6, carries the stride) -> 1x1 linear
    projection, plus the identity when the shape is unchanged."""

    def __init__(self, in_channels, out_channels, expansion, stride):
        super().__init__()
        mid_channels = in_channels * expansion
        self.use_residual = stride == 1 and in_channels == out_channels
        self.conv1 = ConvBlock(in_channels, mid_channels, 1, bias=False, activation=nn.ReLU6)
        self.dwconv2 = ConvBlock(mid_channels, mid_channels, 3, stride=stride, padding=1, groups=mid_channels,
                                 bias=False, activation=nn.ReLU6)
        self.conv3 = nn.Sequential(nn.Conv2d(mid_channels, out_channels, 1, bias=False),
                                   nn.BatchNorm2d(out_channels))

    def forward(self, x):
        out = self.conv3(self.dwconv2(self.conv1(x)))
        return out + x if self.use_residual else out


class MobileNetV2(ReIDModel):
    """MobileNetV2 for re-id; ``feat_dim`` 1280 (``int(1280 * width_mult)`` for widths above 1).

    Args:
        num_classes, loss: as every model.
        pretrained (bool): nothing is downloaded; True warns (see :mod:`.pretrained`).
        pooling, neck, neck_feat: see :mod:`torchreid.models.heads`.
        width_mult (float): channel multiplier (the seed's 1.0; torchreid 1.x also has 1.4).
        dropout_p (float or None): dropout on the pooled feature in training (the seed's 0.5; None for 1.x).
    """

    def __init__(self, num_classes, loss={'xent'}, pretrained=True, pooling='avg', neck='none', neck_feat=None,
                 width_mult=1.0, dropout_p=0.5):
        super().__init__()
        self.dropout_p = dropout_p
        in_channels = int(32 * width_mult)
        self.conv1 = ConvBlock(3, in_channels, 3, stride=2, padding=1, bias=False, activation=nn.ReLU6)
        for index, (expansion, channels, repeats, stride) in enumerate(BLOCK_SETTINGS, start=2):
            out_channels = int(channels * width_mult)
            units = []
            for unit_index in range(repeats):
                units.append(Bottleneck(in_channels, out_channels, expansion, stride if unit_index == 0 else 1))
                in_channels = out_channels
            # single-unit blocks are the unit itself (keys block2.conv1..., not block2.0.conv1...)
            self.add_module('block{}'.format(index), units[0] if repeats == 1 else nn.Sequential(*units))
        feat_dim = int(1280 * width_mult) if width_mult > 1 else 1280
        self.conv9 = ConvBlock(in_channels, feat_dim, 1, bias=False, activation=nn.ReLU6)
        self.build_head(feat_dim, num_classes, loss, pooling=pooling, neck=neck, neck_feat=neck_feat)
        if pretrained:
            warn_no_imagenet_weights('MobileNetV2')

    def featuremaps(self, x):
        """(B, 3, H, W) -> (B, 1280, H/32, W/32)."""
        x = self.conv1(x)
        for index in range(2, 9):
            x = getattr(self, 'block{}'.format(index))(x)
        return self.conv9(x)

    def forward(self, x):
        """(B, 3, H, W) images -> see :meth:`ReIDModel.head`."""
        feature = self.pool(self.featuremaps(x))
        if self.dropout_p is not None:
            feature = F.dropout(feature, p=self.dropout_p, training=self.training)
        return self.head(feature)


def _mobilenetv2_1x(key, width_mult, num_classes, loss, pretrained, kwargs):
    """torchreid 1.x's MobileNetV2 of ``width_mult``: no dropout, 1.x's initialisation; ``pretrained`` warns with
    the link of its ImageNet file (nothing is downloaded, as in 1.x)."""
    model = MobileNetV2(num_classes, loss=loss, pretrained=False, width_mult=width_mult, dropout_p=None, **kwargs)
    init_like_authors(model, keep=[model.classifier] if model.neck == 'bnneck' else [])
    if pretrained:
        warn_manual_imagenet_weights(key)
    return model


# Constructors by torchreid 1.x key; loss defaults to {'xent'} (1.x's 'softmax'; 1.x required it).

def mobilenetv2_x1_0(num_classes, loss={'xent'}, pretrained=True, **kwargs):
    """MobileNetV2 x1.0 (torchreid 1.x's ``mobilenetv2_x1_0``); 1280-d feature."""
    return _mobilenetv2_1x('mobilenetv2_x1_0', 1.0, num_classes, loss, pretrained, kwargs)


def mobilenetv2_x1_4(num_classes, loss={'xent'}, pretrained=True, **kwargs):
    """MobileNetV2 x1.4 (torchreid 1.x's ``mobilenetv2_x1_4``); 1792-d feature."""
    return _mobilenetv2_1x('mobilenetv2_x1_4', 1.4, num_classes, loss, pretrained, kwargs)
