"""NASNet-A Mobile, 4 @ 1056 (Zoph et al. CVPR'18), laid out as Cadene's ``pretrainedmodels`` port so its
ImageNet weights load by name. Registered as ``nasnsetmobile`` (the seed's spelling) and ``nasnetmobile``.

Input: each side must leave a multiple of 8 after the two stride-2 stem stages (so that the factorized
reductions line up with the reduction cells); every multiple of 32 does, e.g. the seed's 256x128.

Re-id head: ReLU -> global average pool -> dropout 0.5 (train only) -> 1056-d feature -> the head
of :mod:`torchreid.models.heads` (the seed's: ``classifier``). The seed also accepted loss {'cent'} and {'ring'} here
(returning (logits, feature) like {'xent', 'htri'}); like every other model this one takes {'xent'} or
{'xent', 'htri'}.

Cadene's port reproduces TensorFlow's 'SAME' padding of stride-2 ops by zero-padding one row and column at the
top-left, applying the op, then dropping the first row and column; ``shifted()`` does that here, wherever the
pretrained weights were trained with it.
"""
from collections import OrderedDict

import torch
import torch.nn as nn
import torch.nn.functional as F

from .blocks import ConvBlock
from .heads import ReIDModel
from .inceptionv4 import CADENE_NAME_MAP
from .pretrained import load_imagenet_weights

IMAGENET_WEIGHTS_KEY = 'nasnetmobile'
BN_EPS = 1e-3


def check_input_size(x):
    """Raise a ValueError when the sides of ``x`` (B, 3, H, W) do not fit the cell grid (see the module docstring)."""
    for size in x.shape[2:]:
        stem_size = -(-((size - 1) // 2) // 2)  # after conv0 (3x3/2, no padding) and cell_stem_0 (stride 2)
        if stem_size % 8:
            raise ValueError('NASNetAMobile needs input sides that leave a multiple of 8 after its two stride-2 stem '
                             'stages, e.g. any multiple of 32 such as 256x128; got {}x{}.'.format(*x.shape[2:]))


def shifted(op, x):
    """``op`` applied with one extra zero row/column at the top-left, whose output row/column is then dropped."""
    return op(F.pad(x, (1, 0, 1, 0)))[:, :, 1:, 1:]


def max_pool_3x3_s2(x):
    return F.max_pool2d(x, 3, stride=2, padding=1)


def avg_pool_3x3_s2(x):
    return F.avg_pool2d(x, 3, stride=2, padding=1, count_include_pad=False)


def avg_pool_3x3_s1(x):
    return F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)


def relu_conv_bn(in_channels, out_channels):
    """ReLU -> 1x1 conv -> BN, children named ``conv`` and ``bn``."""
    return nn.Sequential(OrderedDict([
        ('relu', nn.ReLU()),
        ('conv', nn.Conv2d(in_channels, out_channels, 1, bias=False)),
        ('bn', nn.BatchNorm2d(out_channels, eps=BN_EPS)),
    ]))


class SeparableConv2d(nn.Module):
    """Depthwise k x k conv (carries the stride) then pointwise 1x1 conv, both without bias."""

    def __init__(self, in_channels, out_channels, kernel_size, stride):
        super().__init__()
        self.depthwise_conv2d = nn.Conv2d(in_channels, in_channels, kernel_size, stride=stride,
                                          padding=kernel_size // 2, groups=in_channels, bias=False)
        self.pointwise_conv2d = nn.Conv2d(in_channels, out_channels, 1, bias=False)

    def forward(self, x):
        return self.pointwise_conv2d(self.depthwise_conv2d(x))


class BranchSeparables(nn.Module):
    """ReLU -> separable conv (stride) -> BN -> ReLU -> separable conv -> BN; ``shift`` applies the first
    separable conv with :func:`shifted`."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, shift=False):
        super().__init__()
        self.shift = shift
        self.separable_1 = SeparableConv2d(in_channels, out_channels, kernel_size, stride)
        self.bn_sep_1 = nn.BatchNorm2d(out_channels, eps=BN_EPS)
        self.separable_2 = SeparableConv2d(out_channels, out_channels, kernel_size, 1)
        self.bn_sep_2 = nn.BatchNorm2d(out_channels, eps=BN_EPS)

    def forward(self, x):
        x = F.relu(x)
        x = shifted(self.separable_1, x) if self.shift else self.separable_1(x)
        x = F.relu(self.bn_sep_1(x))
        return self.bn_sep_2(self.separable_2(x))


class FactorizedPath(nn.Module):
    """Half of a factorized reduction: take every other pixel (starting at offset 0 or 1) and 1x1-conv it."""

    def __init__(self, in_channels, out_channels, offset):
        super().__init__()
        self.offset = offset
        self.conv = nn.Conv2d(in_channels, out_channels, 1, bias=False)

    def forward(self, x):
        if self.offset:
            x = F.pad(x, (0, 1, 0, 1))[:, :, 1:, 1:]
        return self.conv(x[:, :, ::2, ::2])


class Cell(nn.Module):
    """Common wiring of NASNet cells: the current input ``x`` is projected by ``conv_1x1``; the previous cell's
    output ``x_prev`` is projected by ``conv_prev_1x1``, or, when it has twice the resolution
    (``prev_is_larger``), halved by a factorized reduction (``path_1``, ``path_2``, ``final_path_bn``)."""

    def __init__(self, in_channels, in_channels_prev, channels, prev_is_larger):
        super().__init__()
        self.prev_is_larger = prev_is_larger
        if prev_is_larger:
            self.conv_1x1 = relu_conv_bn(in_channels, channels)
            self.path_1 = FactorizedPath(in_channels_prev, channels // 2, offset=0)
            self.path_2 = FactorizedPath(in_channels_prev, channels // 2, offset=1)
            self.final_path_bn = nn.BatchNorm2d(channels, eps=BN_EPS)
        else:
            self.conv_prev_1x1 = relu_conv_bn(in_channels_prev, channels)
            self.conv_1x1 = relu_conv_bn(in_channels, channels)

    def project_prev(self, x_prev):
        if not self.prev_is_larger:
            return self.conv_prev_1x1(x_prev)
        x_prev = F.relu(x_prev)
        return self.final_path_bn(torch.cat([self.path_1(x_prev), self.path_2(x_prev)], 1))


class NormalCell(Cell):
    """Keeps the resolution: (x, x_prev) -> 6 * channels."""

    def __init__(self, in_channels, in_channels_prev, channels, prev_is_larger=False):
        super().__init__(in_channels, in_channels_prev, channels, prev_is_larger)
        self.comb_iter_0_left = BranchSeparables(channels, channels, 5)
        self.comb_iter_0_right = BranchSeparables(channels, channels, 3)
        self.comb_iter_1_left = BranchSeparables(channels, channels, 5)
        self.comb_iter_1_right = BranchSeparables(channels, channels, 3)
        self.comb_iter_4_left = BranchSeparables(channels, channels, 3)

    def forward(self, x, x_prev):
        x_left = self.project_prev(x_prev)
        x_right = self.conv_1x1(x)
        comb_0 = self.comb_iter_0_left(x_right) + self.comb_iter_0_right(x_left)
        comb_1 = self.comb_iter_1_left(x_left) + self.comb_iter_1_right(x_left)
        comb_2 = avg_pool_3x3_s1(x_right) + x_left
        comb_3 = 2 * avg_pool_3x3_s1(x_left)
        comb_4 = self.comb_iter_4_left(x_right) + x_right
        return torch.cat([x_left, comb_0, comb_1, comb_2, comb_3, comb_4], 1)


def reduction_combine(cell, x_cur, x_prev, shift):
    """The reduction cell's five combinations (halving the resolution), concatenated: -> 4 * channels."""

    def pool(op, x):
        return shifted(op, x) if shift else op(x)

    comb_0 = cell.comb_iter_0_left(x_cur) + cell.comb_iter_0_right(x_prev)
    comb_1 = pool(max_pool_3x3_s2, x_cur) + cell.comb_iter_1_right(x_prev)
    comb_2 = pool(avg_pool_3x3_s2, x_cur) + cell.comb_iter_2_right(x_prev)
    comb_3 = avg_pool_3x3_s1(comb_0) + comb_1
    comb_4 = cell.comb_iter_4_left(comb_0) + pool(max_pool_3x3_s2, x_cur)
    return torch.cat([comb_1, comb_2, comb_3, comb_4], 1)


class ReductionCell(Cell):
    """Halves the resolution: (x, x_prev) -> 4 * channels (cell_stem_1, reduction_cell_0, reduction_cell_1)."""

    def __init__(self, in_channels, in_channels_prev, channels, prev_is_larger=False):
        super().__init__(in_channels, in_channels_prev, channels, prev_is_larger)
        self.comb_iter_0_left = BranchSeparables(channels, channels, 5, stride=2, shift=True)
        self.comb_iter_0_right = BranchSeparables(channels, channels, 7, stride=2, shift=True)
        self.comb_iter_1_right = BranchSeparables(channels, channels, 7, stride=2, shift=True)
        self.comb_iter_2_right = BranchSeparables(channels, channels, 5, stride=2, shift=True)
        self.comb_iter_4_left = BranchSeparables(channels, channels, 3, shift=True)

    def forward(self, x, x_prev):
        return reduction_combine(self, self.conv_1x1(x), self.project_prev(x_prev), shift=True)


class CellStem0(nn.Module):
    """First reduction, straight on the stem conv: (B, stem, H, W) -> (B, 4 * channels, H/2, W/2). Its right-hand
    separables read the stem output itself; no shifted padding."""

    def __init__(self, stem_channels, channels):
        super().__init__()
        self.conv_1x1 = relu_conv_bn(stem_channels, channels)
        self.comb_iter_0_left = BranchSeparables(channels, channels, 5, stride=2)
        self.comb_iter_0_right = BranchSeparables(stem_channels, channels, 7, stride=2)
        self.comb_iter_1_right = BranchSeparables(stem_channels, channels, 7, stride=2)
        self.comb_iter_2_right = BranchSeparables(stem_channels, channels, 5, stride=2)
        self.comb_iter_4_left = BranchSeparables(channels, channels, 3)

    def forward(self, x):
        return reduction_combine(self, self.conv_1x1(x), x, shift=False)


class NASNetAMobile(ReIDModel):
    """NASNet-A Mobile for re-id; ``feat_dim`` 1056. ``pretrained=True`` loads Cadene's ImageNet weights
    (downloaded once, see :mod:`torchreid.models.pretrained`). ``pooling``, ``neck``, ``neck_feat``: see
    :mod:`torchreid.models.heads`."""

    def __init__(self, num_classes, loss={'xent'}, pretrained=True, pooling='avg', neck='none', neck_feat=None):
        super().__init__()
        # 4 @ 1056: 32 stem filters, 44 filters in the first normal cells (1056 / 24), doubled at each reduction
        stem, filters = 32, 44
        self.conv0 = ConvBlock(3, stem, 3, stride=2, bias=False, activation=None, bn_eps=BN_EPS)
        self.cell_stem_0 = CellStem0(stem, filters // 4)
        self.cell_stem_1 = ReductionCell(filters, stem, filters // 2, prev_is_larger=True)
        self.cell_0 = NormalCell(2 * filters, filters, filters, prev_is_larger=True)
        self.cell_1 = NormalCell(6 * filters, 2 * filters, filters)
        self.cell_2 = NormalCell(6 * filters, 6 * filters, filters)
        self.cell_3 = NormalCell(6 * filters, 6 * filters, filters)
        self.reduction_cell_0 = ReductionCell(6 * filters, 6 * filters, 2 * filters)
        self.cell_6 = NormalCell(8 * filters, 6 * filters, 2 * filters, prev_is_larger=True)
        self.cell_7 = NormalCell(12 * filters, 8 * filters, 2 * filters)
        self.cell_8 = NormalCell(12 * filters, 12 * filters, 2 * filters)
        self.cell_9 = NormalCell(12 * filters, 12 * filters, 2 * filters)
        self.reduction_cell_1 = ReductionCell(12 * filters, 12 * filters, 4 * filters)
        self.cell_12 = NormalCell(16 * filters, 12 * filters, 4 * filters, prev_is_larger=True)
        self.cell_13 = NormalCell(24 * filters, 16 * filters, 4 * filters)
        self.cell_14 = NormalCell(24 * filters, 24 * filters, 4 * filters)
        self.cell_15 = NormalCell(24 * filters, 24 * filters, 4 * filters)
        self.build_head(24 * filters, num_classes, loss, pooling=pooling, neck=neck, neck_feat=neck_feat)
        if pretrained:
            load_imagenet_weights(self, IMAGENET_WEIGHTS_KEY, CADENE_NAME_MAP)

    def featuremaps(self, x):
        """(B, 3, H, W) -> (B, 1056, ~H/32, ~W/32); each cell reads the two previous outputs."""
        x_conv0 = self.conv0(x)
        x_stem_0 = self.cell_stem_0(x_conv0)
        prev, cur = x_stem_0, self.cell_stem_1(x_stem_0, x_conv0)
        for name in ('cell_0', 'cell_1', 'cell_2', 'cell_3', 'reduction_cell_0', 'cell_6', 'cell_7', 'cell_8',
                     'cell_9', 'reduction_cell_1', 'cell_12', 'cell_13', 'cell_14', 'cell_15'):
            prev, cur = cur, getattr(self, name)(cur, prev)
        return cur

    def forward(self, x):
        """(B, 3, H, W) images -> see :meth:`ReIDModel.head`."""
        check_input_size(x)
        features = self.pool(F.relu(self.featuremaps(x)))
        return self.head(F.dropout(features, p=0.5, training=self.training))
