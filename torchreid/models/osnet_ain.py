"""OSNet-AIN (Zhou et al. TPAMI'21, "Learning Generalisable Omni-Scale Representations for Person
Re-Identification"): OSNet with instance normalisation placed by architecture search, for cross-domain re-id.
torchreid 1.x's ``osnet_ain_x1_0``, ``osnet_ain_x0_75``, ``osnet_ain_x0_5`` and ``osnet_ain_x0_25``.

Differences from :mod:`.osnet`: conv1 normalises with an affine InstanceNorm; some blocks ("IN-in") replace the BN
after their expanding 1x1 conv (``conv3``) by an affine InstanceNorm (``IN``) applied before the residual sum; the
transitions are their own modules ``pool2`` / ``pool3`` instead of the last entry of conv2 / conv3.

    conv1 (IN) + max-pool -> conv2 [IN-in, IN-in] -> pool2 -> conv3 [plain, IN-in] -> pool3 -> conv4 [IN-in, plain]
    -> conv5 1x1 -> global pool -> fc (Linear 512 + BN + ReLU) -> classifier

The state_dict keys are 1.x's (``conv2.0.conv2.3.layers.2.conv1.weight``: stream 4, its third lite 3x3;
``conv2.0.IN.weight``, ``pool2.0.conv.weight``, ...), so 1.x checkpoints load as they are. The ImageNet weights
are on Google Drive only and are not downloaded (``pretrained=True`` warns with the link).
"""
import torch.nn as nn
import torch.nn.functional as F

from .heads import ReIDModel
from .osnet import FC_DIM, STREAM_DEPTHS, AggregationGate, Conv1x1BN, ConvBNReLU, LiteConv3x3
from .pretrained import warn_manual_imagenet_weights
from .weight_init import init_like_authors

# per stage conv2-conv4: whether each of its two blocks is an IN-in block (found by the paper's search)
INSTANCE_NORM_BLOCKS = ((True, True), (False, True), (True, False))


class LiteStream(nn.Module):
    """``depth`` stacked lite 3x3 layers, held as ``layers`` (1.x's naming); shape-preserving."""

    def __init__(self, channels, depth):
        super().__init__()
        self.layers = nn.Sequential(*[LiteConv3x3(channels) for _ in range(depth)])

    def forward(self, x):
        return self.layers(x)


class Conv1x1(nn.Module):
    """Bare linear 1x1 projection (no bias, no normalisation); child ``conv``."""

    def __init__(self, in_channels, out_channels):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, 1, bias=False)

    def forward(self, x):
        return self.conv(x)


class OSBlockAIN(nn.Module):
    """Omni-scale residual bottleneck with the streams in a list (``conv2.0`` .. ``conv2.3``, depths 1-4).

    ``instance_norm=True`` is the IN-in block: ``conv3`` has no BN and an affine InstanceNorm ``IN`` normalises its
    output before the residual sum. (B, in, H, W) -> (B, out, H, W).
    """

    def __init__(self, in_channels, out_channels, instance_norm, bottleneck_reduction=4):
        super().__init__()
        mid_channels = out_channels // bottleneck_reduction
        self.conv1 = ConvBNReLU(in_channels, mid_channels, 1)
        self.conv2 = nn.ModuleList([LiteStream(mid_channels, depth) for depth in STREAM_DEPTHS])
        self.gate = AggregationGate(mid_channels)
        if instance_norm:
            self.conv3 = Conv1x1(mid_channels, out_channels)
            self.IN = nn.InstanceNorm2d(out_channels, affine=True)
        else:
            self.conv3 = Conv1x1BN(mid_channels, out_channels)
            self.IN = None
        self.downsample = Conv1x1BN(in_channels, out_channels) if in_channels != out_channels else None

    def forward(self, x):
        reduced = self.conv1(x)
        out = self.conv3(sum(self.gate(stream(reduced)) for stream in self.conv2))
        if self.IN is not None:
            out = self.IN(out)
        shortcut = x if self.downsample is None else self.downsample(x)
        return F.relu(out + shortcut)


def _transition(channels):
    """1x1 conv + BN + ReLU, then a 2x2 average pool (``pool2`` / ``pool3``)."""
    return nn.Sequential(ConvBNReLU(channels, channels, 1), nn.AvgPool2d(2, stride=2))


class OSNetAIN(ReIDModel):
    """OSNet-AIN for re-id; 512-d feature.

    Args:
        num_classes (int): number of training identities.
        channels (list of 4 int): widths of conv1 and of stages conv2-conv4.
        loss (set): {'xent'} or {'xent', 'htri'}.
        pretrained (bool): nothing is downloaded; True warns with the Google Drive link of the ImageNet file.
        pooling, neck, neck_feat: see :mod:`torchreid.models.heads`.
        key (str or None): registry key, to name its ImageNet file in the pretrained=True warning.
    """

    def __init__(self, num_classes, channels, loss={'xent'}, pretrained=True, pooling='avg', neck='none',
                 neck_feat=None, key=None):
        super().__init__()
        self.conv1 = ConvBNReLU(3, channels[0], 7, stride=2, padding=3, instance_norm=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        stages = []
        for (in_channels, out_channels), instance_norms in zip(zip(channels[:-1], channels[1:]),
                                                               INSTANCE_NORM_BLOCKS):
            stages.append(nn.Sequential(OSBlockAIN(in_channels, out_channels, instance_norms[0]),
                                        OSBlockAIN(out_channels, out_channels, instance_norms[1])))
        self.conv2 = stages[0]
        self.pool2 = _transition(channels[1])
        self.conv3 = stages[1]
        self.pool3 = _transition(channels[2])
        self.conv4 = stages[2]
        self.conv5 = ConvBNReLU(channels[3], channels[3], 1)
        self.fc = nn.Sequential(nn.Linear(channels[3], FC_DIM), nn.BatchNorm1d(FC_DIM), nn.ReLU(inplace=True))
        self.build_head(FC_DIM, num_classes, loss, pooling=pooling, neck=neck, neck_feat=neck_feat)
        init_like_authors(self, keep=[self.classifier] if self.neck == 'bnneck' else [])
        if pretrained:
            warn_manual_imagenet_weights(key)

    def featuremaps(self, x):
        """(B, 3, H, W) -> (B, channels[3], H/16, W/16) feature map before pooling."""
        x = self.maxpool(self.conv1(x))
        x = self.pool3(self.conv3(self.pool2(self.conv2(x))))
        return self.conv5(self.conv4(x))

    def forward(self, x):
        """(B, 3, H, W) images -> see :meth:`ReIDModel.head`."""
        return self.head(self.fc(self.pool(self.featuremaps(x))))


# Constructors by torchreid 1.x key; as in 1.x, num_classes defaults to 1000 (ImageNet) and pretrained to True.

def osnet_ain_x1_0(num_classes=1000, loss={'xent'}, pretrained=True, **kwargs):
    """OSNet-AIN, width x1.0 (channels 64, 256, 384, 512)."""
    return OSNetAIN(num_classes, [64, 256, 384, 512], loss=loss, pretrained=pretrained, key='osnet_ain_x1_0',
                    **kwargs)


def osnet_ain_x0_75(num_classes=1000, loss={'xent'}, pretrained=True, **kwargs):
    """OSNet-AIN, width x0.75 (channels 48, 192, 288, 384)."""
    return OSNetAIN(num_classes, [48, 192, 288, 384], loss=loss, pretrained=pretrained, key='osnet_ain_x0_75',
                    **kwargs)


def osnet_ain_x0_5(num_classes=1000, loss={'xent'}, pretrained=True, **kwargs):
    """OSNet-AIN, width x0.5 (channels 32, 128, 192, 256)."""
    return OSNetAIN(num_classes, [32, 128, 192, 256], loss=loss, pretrained=pretrained, key='osnet_ain_x0_5',
                    **kwargs)


def osnet_ain_x0_25(num_classes=1000, loss={'xent'}, pretrained=True, **kwargs):
    """OSNet-AIN, width x0.25 (channels 16, 64, 96, 128)."""
    return OSNetAIN(num_classes, [16, 64, 96, 128], loss=loss, pretrained=pretrained, key='osnet_ain_x0_25',
                    **kwargs)
