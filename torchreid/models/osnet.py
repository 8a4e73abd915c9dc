"""OSNet (Zhou et al. ICCV 2019, "Omni-Scale Feature Learning for Person Re-Identification").

Each omni-scale bottleneck reduces the channels 4x with a 1x1 conv, runs four streams of 1, 2, 3 and 4 lite 3x3
layers (receptive fields 3, 5, 7, 9), weights every stream channel-wise with one shared aggregation gate (global
pool -> 1x1 conv c -> c/16 -> ReLU -> 1x1 conv -> sigmoid), sums the streams, expands back with a linear 1x1 conv
and adds the (projected when the width changes) input. A lite 3x3 is a linear 1x1 conv followed by a depthwise
3x3 conv, BN and ReLU.

    conv1 7x7/2 + 3x3/2 max-pool -> conv2 (2 blocks, transition) -> conv3 (2 blocks, transition) -> conv4 (2 blocks)
    -> conv5 1x1 -> global pool -> fc (Linear 512 + BN + ReLU) -> classifier
    transition = 1x1 conv + BN + ReLU, then 2x2 average pool; stage widths [64, 256, 384, 512] x width multiplier.

The state_dict keys follow the authors' implementation (``conv2.0.conv2a.conv1.weight``, ``conv2.0.gate.fc1.weight``,
``fc.0.weight``, ...), so torchreid 1.x checkpoints load as they are, and their ImageNet files, published on Google
Drive only and therefore not downloaded here (see :data:`torchreid.models.pretrained.MANUAL_IMAGENET_WEIGHTS`), can
be loaded by hand with ``torchreid.utils.checkpoint.load_pretrained_weights(model, path)`` (the 1000-class
classifier is skipped). The feature is the 512-d fc output for every width.

``osnet_ibn_x1_0`` (torchreid 1.x's IBN variant, after Pan et al. ECCV'18 "IBN-Net"): conv1 normalises with an affine
InstanceNorm instead of BN (same name ``conv1.bn``), and each block of conv2 applies an affine InstanceNorm
(``IN``) to the residual sum before its ReLU. The IN-in-residual variant OSNet-AIN is in :mod:`.osnet_ain`.
"""
import torch.nn as nn
import torch.nn.functional as F

from .heads import ReIDModel
from .pretrained import warn_manual_imagenet_weights
from .weight_init import init_like_authors

STREAM_DEPTHS = (1, 2, 3, 4)
BLOCKS_PER_STAGE = 2
FC_DIM = 512


class ConvBNReLU(nn.Module):
    """Conv2d (no bias) -> BatchNorm2d -> ReLU; children ``conv`` and ``bn``.

    ``instance_norm=True`` puts an affine InstanceNorm2d in place of the BN, under the same name ``bn`` (the
    authors' IBN / AIN stems).
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, instance_norm=False):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride, padding=padding, bias=False)
        self.bn = nn.InstanceNorm2d(out_channels, affine=True) if instance_norm else nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x):
        return self.relu(self.bn(self.conv(x)))


class Conv1x1BN(nn.Module):
    """Linear 1x1 projection: Conv2d 1x1 (no bias) -> BatchNorm2d, no activation."""

    def __init__(self, in_channels, out_channels):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, 1, bias=False)
        self.bn = nn.BatchNorm2d(out_channels)

    def forward(self, x):
        return self.bn(self.conv(x))


class LiteConv3x3(nn.Module):
    """Lite 3x3: 1x1 conv (linear) -> depthwise 3x3 conv -> BN -> ReLU; shape-preserving on (B, C, H, W)."""

    def __init__(self, channels):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 1, bias=False)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, groups=channels, bias=False)
        self.bn = nn.BatchNorm2d(channels)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x):
        return self.relu(self.bn(self.conv2(self.conv1(x))))


class AggregationGate(nn.Module):
    """Unified aggregation gate: channel weights from the stream's own content, x * sigmoid(fc2(relu(fc1(gap(x)))))."""

    def __init__(self, channels, reduction=16):
        super().__init__()
        self.global_avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(channels, channels // reduction, 1)
        self.relu = nn.ReLU(inplace=True)
        self.fc2 = nn.Conv2d(channels // reduction, channels, 1)
        self.gate_activation = nn.Sigmoid()

    def forward(self, x):
        weights = self.gate_activation(self.fc2(self.relu(self.fc1(self.global_avgpool(x)))))
        return x * weights


def _lite_stream(channels, depth):
    """``depth`` stacked lite 3x3 layers; a single layer stays unwrapped (the authors' ``conv2a``)."""
    if depth == 1:
        return LiteConv3x3(channels)
    return nn.Sequential(*[LiteConv3x3(channels) for _ in range(depth)])


class OSBlock(nn.Module):
    """Omni-scale residual bottleneck: (B, in, H, W) -> (B, out, H, W).

    ``instance_norm=True`` (OSNet-IBN's conv2 blocks) normalises the residual sum with an affine InstanceNorm2d,
    ``IN``, before the final ReLU.
    """

    def __init__(self, in_channels, out_channels, bottleneck_reduction=4, instance_norm=False):
        super().__init__()
        mid_channels = out_channels // bottleneck_reduction
        self.conv1 = ConvBNReLU(in_channels, mid_channels, 1)
        # streams with 1, 2, 3 and 4 lite 3x3 layers (attribute names as the authors')
        self.conv2a, self.conv2b, self.conv2c, self.conv2d = [_lite_stream(mid_channels, depth)
                                                              for depth in STREAM_DEPTHS]
        self.gate = AggregationGate(mid_channels)
        self.conv3 = Conv1x1BN(mid_channels, out_channels)
        self.downsample = Conv1x1BN(in_channels, out_channels) if in_channels != out_channels else None
        self.IN = nn.InstanceNorm2d(out_channels, affine=True) if instance_norm else None

    def forward(self, x):
        reduced = self.conv1(x)
        streams = (self.conv2a, self.conv2b, self.conv2c, self.conv2d)
        aggregated = sum(self.gate(stream(reduced)) for stream in streams)
        shortcut = x if self.downsample is None else self.downsample(x)
        out = self.conv3(aggregated) + shortcut
        if self.IN is not None:
            out = self.IN(out)
        return F.relu(out)


def _stage(in_channels, out_channels, with_transition, instance_norm=False):
    """Two OS blocks, then (optionally) the transition: 1x1 conv + BN + ReLU and a 2x2 average pool."""
    layers = [OSBlock(in_channels, out_channels, instance_norm=instance_norm)]
    layers += [OSBlock(out_channels, out_channels, instance_norm=instance_norm)
               for _ in range(1, BLOCKS_PER_STAGE)]
    if with_transition:
        layers.append(nn.Sequential(ConvBNReLU(out_channels, out_channels, 1), nn.AvgPool2d(2, stride=2)))
    return nn.Sequential(*layers)


class OSNet(ReIDModel):
    """Omni-Scale Network for re-id; 512-d feature.

    Args:
        num_classes (int): number of training identities.
        channels (list of 4 int): widths of conv1 and of stages conv2-conv4.
        loss (set): {'xent'} or {'xent', 'htri'}.
        pretrained (bool): True only warns: the ImageNet weights are not downloaded (see the module docstring).
        pooling, neck, neck_feat: see :mod:`torchreid.models.heads`.
        ibn (bool): the IBN variant (InstanceNorm in conv1 and in the conv2 blocks; see the module docstring).
        key (str or None): registry key, to name its ImageNet file in the pretrained=True warning.
    """

    def __init__(self, num_classes, channels, loss={'xent'}, pretrained=True, pooling='avg', neck='none',
                 neck_feat=None, ibn=False, key=None):
        super().__init__()
        self.conv1 = ConvBNReLU(3, channels[0], 7, stride=2, padding=3, instance_norm=ibn)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        self.conv2 = _stage(channels[0], channels[1], with_transition=True, instance_norm=ibn)
        self.conv3 = _stage(channels[1], channels[2], with_transition=True)
        self.conv4 = _stage(channels[2], channels[3], with_transition=False)
        self.conv5 = ConvBNReLU(channels[3], channels[3], 1)
        self.fc = nn.Sequential(nn.Linear(channels[3], FC_DIM), nn.BatchNorm1d(FC_DIM), nn.ReLU(inplace=True))
        self.build_head(FC_DIM, num_classes, loss, pooling=pooling, neck=neck, neck_feat=neck_feat)
        self._init_params()
        if pretrained:
            warn_manual_imagenet_weights(key)

    def _init_params(self):
        """The authors' initialisation; the BNNeck classifier keeps its own."""
        init_like_authors(self, keep=[self.classifier] if self.neck == 'bnneck' else [])

    def featuremaps(self, x):
        """(B, 3, H, W) -> (B, channels[3], H/16, W/16) feature map before pooling."""
        x = self.maxpool(self.conv1(x))
        return self.conv5(self.conv4(self.conv3(self.conv2(x))))

    def forward(self, x):
        """(B, 3, H, W) images -> see :meth:`ReIDModel.head`."""
        return self.head(self.fc(self.pool(self.featuremaps(x))))


# Constructors by torchreid 1.x key; as in 1.x, num_classes defaults to 1000 (ImageNet) and pretrained to True.

def osnet_x1_0(num_classes=1000, loss={'xent'}, pretrained=True, **kwargs):
    """OSNet, width x1.0 (channels 64, 256, 384, 512; about 2.2M parameters with 1000 classes)."""
    return OSNet(num_classes, [64, 256, 384, 512], loss=loss, pretrained=pretrained, key='osnet_x1_0', **kwargs)


def osnet_x0_75(num_classes=1000, loss={'xent'}, pretrained=True, **kwargs):
    """OSNet, width x0.75 (channels 48, 192, 288, 384)."""
    return OSNet(num_classes, [48, 192, 288, 384], loss=loss, pretrained=pretrained, key='osnet_x0_75', **kwargs)


def osnet_x0_5(num_classes=1000, loss={'xent'}, pretrained=True, **kwargs):
    """OSNet, width x0.5 (channels 32, 128, 192, 256)."""
    return OSNet(num_classes, [32, 128, 192, 256], loss=loss, pretrained=pretrained, key='osnet_x0_5', **kwargs)


def osnet_x0_25(num_classes=1000, loss={'xent'}, pretrained=True, **kwargs):
    """OSNet, width x0.25 (channels 16, 64, 96, 128)."""
    return OSNet(num_classes, [16, 64, 96, 128], loss=loss, pretrained=pretrained, key='osnet_x0_25', **kwargs)


def osnet_ibn_x1_0(num_classes=1000, loss={'xent'}, pretrained=True, **kwargs):
    """OSNet-IBN, width x1.0 (torchreid 1.x's ``osnet_ibn_x1_0``; see the module docstring)."""
    return OSNet(num_classes, [64, 256, 384, 512], loss=loss, pretrained=pretrained, ibn=True,
                 key='osnet_ibn_x1_0', **kwargs)
