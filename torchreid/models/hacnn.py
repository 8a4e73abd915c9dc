"""Harmonious Attention CNN, HA-CNN (Li et al. CVPR'18), the seed's from-scratch version.

A global stream of three Inception blocks, each followed by harmonious attention: soft (spatial x channel) attention
re-weights the block output, and hard attention predicts the translations of four horizontal regions (a quarter of
the height each). A local stream crops those regions from each block's input with a spatial transformer and runs
them through its own Inception blocks, shared across regions.

Outputs: train {'xent'}: ``(global_logits, local_logits)``; train {'xent', 'htri'}: ``((global_logits,
local_logits), (global_feature, local_feature))``, 512-d features; eval: concatenation of the L2-normalised global
and local features (``feat_dim`` 1024). With ``learn_region=False`` only the global stream exists (``feat_dim`` 512,
plain logits / (logits, feature)).

Differences from the seed (same state_dict): it runs on any device, so there is no ``use_gpu`` argument (the seed
needed ``use_gpu=False`` on CPU; passing it now is a TypeError); the region scale factors are a non-persistent
buffer that follows ``model.to(device)``; the spatial transformer uses ``align_corners=True``, which is what
torch 0.4's ``affine_grid``/``grid_sample`` did, and what the zoo weights were trained with. (torchreid 1.x's HACNN,
otherwise the same network with the same state_dict keys, gets ``align_corners=False`` from torch >= 1.3: from the
same weights its features differ slightly, cosine about 0.998.) Global pooling is ``avg_pool2d`` over the whole map, the kernel the seed and 1.x use: the same mean as
adaptive pooling but bit-identical to theirs, which matters in train mode, where the BatchNorms on the 1x1 channel
attention maps amplify any rounding difference.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

from .blocks import ConvBlock, check_loss, train_output, warn_no_imagenet_weights

INPUT_SIZE = (160, 64)
NUM_REGIONS = 4
# the local stream resizes the transformed regions of block 1, 2, 3 to these (height, width)
LOCAL_SIZES = ((24, 28), (12, 14), (6, 7))


def global_average(x):
    """(B, C, H, W) -> (B, C, 1, 1) mean over H and W.

    The kernel size is taken as Python ints: the ONNX exporter traces it as a constant (the export size is fixed),
    where a kernel read from the traced shape cannot be converted.
    """
    return F.avg_pool2d(x, (int(x.shape[2]), int(x.shape[3])))


class InceptionA(nn.Module):
    """Four ``out/4``-channel streams (three 1x1 -> 3x3, one 3x3 avg-pool -> 1x1), concatenated; same size."""

    def __init__(self, in_channels, out_channels):
        super().__init__()
        mid = out_channels // 4
        self.stream1 = nn.Sequential(ConvBlock(in_channels, mid, 1), ConvBlock(mid, mid, 3, padding=1))
        self.stream2 = nn.Sequential(ConvBlock(in_channels, mid, 1), ConvBlock(mid, mid, 3, padding=1))
        self.stream3 = nn.Sequential(ConvBlock(in_channels, mid, 1), ConvBlock(mid, mid, 3, padding=1))
        self.stream4 = nn.Sequential(nn.AvgPool2d(3, stride=1, padding=1), ConvBlock(in_channels, mid, 1))

    def forward(self, x):
        return torch.cat([self.stream1(x), self.stream2(x), self.stream3(x), self.stream4(x)], 1)


class InceptionB(nn.Module):
    """Halves the resolution: cat(1x1 -> 3x3/2 [out/4], 1x1 -> 3x3 -> 3x3/2 [out/4], max-pool -> 1x1 [out/2])."""

    def __init__(self, in_channels, out_channels):
        super().__init__()
        mid = out_channels // 4
        self.stream1 = nn.Sequential(ConvBlock(in_channels, mid, 1), ConvBlock(mid, mid, 3, stride=2, padding=1))
        self.stream2 = nn.Sequential(ConvBlock(in_channels, mid, 1), ConvBlock(mid, mid, 3, padding=1),
                                     ConvBlock(mid, mid, 3, stride=2, padding=1))
        self.stream3 = nn.Sequential(nn.MaxPool2d(3, stride=2, padding=1), ConvBlock(in_channels, 2 * mid, 1))

    def forward(self, x):
        return torch.cat([self.stream1(x), self.stream2(x), self.stream3(x)], 1)


class SpatialAttn(nn.Module):
    """Channel mean -> 3x3/2 ConvBlock -> bilinear x2 upsampling -> 1x1 ConvBlock: (B, C, H, W) -> (B, 1, H, W)
    for even H and W."""

    def __init__(self):
        super().__init__()
        self.conv1 = ConvBlock(1, 1, 3, stride=2, padding=1)
        self.conv2 = ConvBlock(1, 1, 1)

    def forward(self, x):
        x = self.conv1(x.mean(1, keepdim=True))
        x = F.interpolate(x, (x.shape[2] * 2, x.shape[3] * 2), mode='bilinear', align_corners=True)
        return self.conv2(x)


class ChannelAttn(nn.Module):
    """Squeeze-and-excitation without the sigmoid: global pool -> 1x1 ConvBlock (C/16) -> 1x1 ConvBlock (C):
    (B, C, H, W) -> (B, C, 1, 1)."""

    def __init__(self, in_channels, reduction=16):
        super().__init__()
        if in_channels % reduction:
            raise ValueError('ChannelAttn needs channels divisible by {}, got {}'.format(reduction, in_channels))
        self.conv1 = ConvBlock(in_channels, in_channels // reduction, 1)
        self.conv2 = ConvBlock(in_channels // reduction, in_channels, 1)

    def forward(self, x):
        return self.conv2(self.conv1(global_average(x)))


class SoftAttn(nn.Module):
    """sigmoid(1x1 ConvBlock(spatial x channel attention)): (B, C, H, W) -> weights in (0, 1) of the same shape."""

    def __init__(self, in_channels):
        super().__init__()
        self.spatial_attn = SpatialAttn()
        self.channel_attn = ChannelAttn(in_channels)
        self.conv = ConvBlock(in_channels, in_channels, 1)

    def forward(self, x):
        return torch.sigmoid(self.conv(self.spatial_attn(x) * self.channel_attn(x)))


class HardAttn(nn.Module):
    """Region translations: global pool -> Linear(C, 8) -> tanh: (B, C, H, W) -> (B, 4, 2) as (tx, ty) per region.

    Initialised (zero weights) to the four horizontal stripes centred at ty = tanh(-0.75, -0.25, 0.25, 0.75).
    """

    def __init__(self, in_channels):
        super().__init__()
        self.fc = nn.Linear(in_channels, NUM_REGIONS * 2)
        nn.init.zeros_(self.fc.weight)
        with torch.no_grad():
            self.fc.bias.copy_(torch.tensor([0, -0.75, 0, -0.25, 0, 0.25, 0, 0.75]))

    def forward(self, x):
        pooled = global_average(x).flatten(1)
        return torch.tanh(self.fc(pooled)).view(-1, NUM_REGIONS, 2)


class HarmAttn(nn.Module):
    """Soft attention weights and hard-attention translations of one block output."""

    def __init__(self, in_channels):
        super().__init__()
        self.soft_attn = SoftAttn(in_channels)
        self.hard_attn = HardAttn(in_channels)

    def forward(self, x):
        return self.soft_attn(x), self.hard_attn(x)


class HACNN(nn.Module):
    """HA-CNN for re-id; input 160x64 (height x width). See the module docstring for the outputs.

    Args:
        num_classes (int): number of training identities.
        loss (set): {'xent'} or {'xent', 'htri'}.
        pretrained (bool): there are no ImageNet weights; True only warns.
        nchannels (sequence of 3 ints): output channels of the three Inception blocks.
        feat_dim (int): size of the global and of the local feature.
        learn_region (bool): build the local stream.
    """

    def __init__(self, num_classes, loss={'xent'}, pretrained=True, nchannels=(128, 256, 384), feat_dim=512,
                 learn_region=True):
        super().__init__()
        self.loss = check_loss(loss)
        if len(nchannels) != 3:
            raise ValueError('HACNN nchannels must give the channels of its 3 blocks, got {}'.format(nchannels))
        self.learn_region = learn_region
        self.conv = ConvBlock(3, 32, 3, stride=2, padding=1)
        in_channels = 32
        for index, channels in enumerate(nchannels, start=1):
            self.add_module('inception{}'.format(index),
                            nn.Sequential(InceptionA(in_channels, channels), InceptionB(channels, channels)))
            self.add_module('ha{}'.format(index), HarmAttn(channels))
            in_channels = channels
        self.fc_global = nn.Sequential(nn.Linear(nchannels[2], feat_dim), nn.BatchNorm1d(feat_dim), nn.ReLU())
        self.classifier_global = nn.Linear(feat_dim, num_classes)
        if learn_region:
            # affine theta of a region = [[1, 0, tx], [0, 0.25, ty]]: full width, a quarter of the height
            self.register_buffer('region_scale', torch.tensor([[1.0, 0.0], [0.0, 0.25]]), persistent=False)
            self.local_conv1 = InceptionB(32, nchannels[0])
            self.local_conv2 = InceptionB(nchannels[0], nchannels[1])
            self.local_conv3 = InceptionB(nchannels[1], nchannels[2])
            self.fc_local = nn.Sequential(nn.Linear(nchannels[2] * NUM_REGIONS, feat_dim), nn.BatchNorm1d(feat_dim),
                                          nn.ReLU())
            self.classifier_local = nn.Linear(feat_dim, num_classes)
            self.feat_dim = 2 * feat_dim
        else:
            self.feat_dim = feat_dim
        if pretrained:
            warn_no_imagenet_weights('HACNN')

    def crop_region(self, x, translation):
        """Spatial transformer: the region of ``x`` (B, C, H, W) at ``translation`` (B, 2), same output size."""
        theta = torch.cat([self.region_scale.expand(x.shape[0], 2, 2), translation.unsqueeze(2)], 2)
        grid = F.affine_grid(theta, list(x.shape), align_corners=True)
        return F.grid_sample(x, grid, align_corners=True)

    def forward(self, x):
        if tuple(x.shape[2:]) != INPUT_SIZE:
            raise ValueError(
                'HACNN needs {}x{} (height x width) input images, got {}x{}: its attention and local-region sizes '
                'are built for that size. Train and test with --height {} --width {}.'.format(
                    INPUT_SIZE[0], INPUT_SIZE[1], x.shape[2], x.shape[3], INPUT_SIZE[0], INPUT_SIZE[1]))
        block_input = self.conv(x)
        local_maps = [None] * NUM_REGIONS
        for index in range(3):
            block_output = getattr(self, 'inception{}'.format(index + 1))(block_input)
            attention, translations = getattr(self, 'ha{}'.format(index + 1))(block_output)
            block_output = block_output * attention
            if self.learn_region:
                local_conv = getattr(self, 'local_conv{}'.format(index + 1))
                for region in range(NUM_REGIONS):
                    crop = self.crop_region(block_input, translations[:, region])
                    crop = F.interpolate(crop, LOCAL_SIZES[index], mode='bilinear', align_corners=True)
                    if local_maps[region] is not None:
                        crop = crop + local_maps[region]
                    local_maps[region] = local_conv(crop)
            block_input = block_output

        global_feature = self.fc_global(global_average(block_input).flatten(1))
        if not self.learn_region:
            if not self.training:
                return global_feature
            return train_output(self.loss, self.classifier_global(global_feature), global_feature)

        pooled_regions = [global_average(local_map).flatten(1) for local_map in local_maps]
        local_feature = self.fc_local(torch.cat(pooled_regions, 1))
        if not self.training:
            return torch.cat([F.normalize(global_feature, dim=1), F.normalize(local_feature, dim=1)], 1)
        logits = (self.classifier_global(global_feature), self.classifier_local(local_feature))
        return train_output(self.loss, logits, (global_feature, local_feature))
