"""The re-id head every backbone family here shares: global pooling, an optional BNNeck and the identity classifier,
plus the train/eval output contract.

A model subclasses :class:`ReIDModel`, builds its trunk, then calls :meth:`ReIDModel.build_head` (last, so the head's
state_dict entries come after the trunk's, as in the seed), and ends ``forward`` with ``self.head(feature)``.

Options (defaults reproduce the seed exactly, state_dict included):
    pooling   'avg' (global average, the seed) | 'gem' (generalized mean with a learnable exponent; adds
              ``global_pool.p``)
    neck      'none' (classifier on the pooled feature, the seed) | 'bnneck' (Luo et al. 2019, "Bag of tricks":
              BatchNorm1d ``bottleneck`` after pooling, bias frozen at 0; a bias-free classifier on its output; the
              triplet loss gets the feature before the BN)
    neck_feat with 'bnneck' only: the eval feature is taken 'after' (default) or 'before' the BN
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

from .blocks import check_loss, train_output

POOLINGS = ('avg', 'gem')
NECKS = ('none', 'bnneck')
NECK_FEATS = ('before', 'after')


class GeneralizedMeanPooling(nn.Module):
    """GeM pooling (Radenovic et al. 2018): ``(mean over H, W of clamp(x, eps) ** p) ** (1 / p)``.

    ``p`` is learned (initialised to 3); p = 1 is average pooling and p -> inf max pooling.
    (B, C, H, W) -> (B, C, 1, 1).
    """

    def __init__(self, p=3.0, eps=1e-6):
        super().__init__()
        self.p = nn.Parameter(torch.full((1,), float(p)))
        self.eps = eps

    def forward(self, x):
        return F.adaptive_avg_pool2d(x.clamp(min=self.eps).pow(self.p), 1).pow(1.0 / self.p)

    def extra_repr(self):
        return 'p={:.4f}, eps={}'.format(self.p.item(), self.eps)


def build_pooling(pooling):
    """The global pooling module for ``pooling`` ('avg' or 'gem'); (B, C, H, W) -> (B, C, 1, 1)."""
    if pooling == 'avg':
        return nn.AdaptiveAvgPool2d(1)
    if pooling == 'gem':
        return GeneralizedMeanPooling()
    raise ValueError("pooling must be one of {}, got {!r}".format(POOLINGS, pooling))


def check_choice(name, value, choices):
    """Return ``value`` if it is one of ``choices``; else a ValueError naming the option and the valid values."""
    if value not in choices:
        raise ValueError('{} must be one of {}, got {!r}'.format(name, choices, value))
    return value


class ReIDModel(nn.Module):
    """Base class of the ResNet-family, DenseNet and OSNet models: the shared head and output contract.

    After :meth:`build_head`, the model has ``loss`` (frozenset), ``feat_dim``, ``global_pool``, ``classifier``
    and, with ``neck='bnneck'``, ``bottleneck``.
    """

    def build_head(self, feat_dim, num_classes, loss, pooling='avg', neck='none', neck_feat=None):
        """Create the pooling, neck and classifier for a ``feat_dim``-dim feature and ``num_classes`` identities."""
        self.loss = check_loss(loss)
        self.neck = check_choice('neck', neck, NECKS)
        if neck == 'none' and neck_feat is not None:
            raise ValueError("neck_feat={!r} only applies with neck='bnneck'".format(neck_feat))
        self.neck_feat = check_choice('neck_feat', neck_feat or 'after', NECK_FEATS)
        self.feat_dim = feat_dim
        self.global_pool = build_pooling(pooling)
        if neck == 'bnneck':
            self.bottleneck = nn.BatchNorm1d(feat_dim)
            nn.init.ones_(self.bottleneck.weight)
            nn.init.zeros_(self.bottleneck.bias)
            self.bottleneck.bias.requires_grad_(False)
            self.classifier = nn.Linear(feat_dim, num_classes, bias=False)
            nn.init.normal_(self.classifier.weight, std=0.001)
        else:
            self.classifier = nn.Linear(feat_dim, num_classes)

    def pool(self, feature_map):
        """(B, C, H, W) -> (B, C) with the configured global pooling (any H, W)."""
        return self.global_pool(feature_map).flatten(1)

    def head(self, feature):
        """(B, feat_dim) pooled feature -> eval: the retrieval feature (B, feat_dim); train: logits (B, C) for
        {'xent'}, (logits, feature) for {'xent', 'htri'}."""
        if self.neck == 'bnneck':
            normed = self.bottleneck(feature)
            if not self.training:
                return normed if self.neck_feat == 'after' else feature
            return train_output(self.loss, self.classifier(normed), feature)
        if not self.training:
            return feature
        return train_output(self.loss, self.classifier(feature), feature)
