"""Losses for person re-identification.

    CrossEntropyLoss   softmax cross entropy over identities, optionally label-smoothed
    TripletLoss        batch-hard triplet loss on the feature vectors
    CenterLoss         pulls each feature towards a learnt centre of its identity
    DeepSupervision    averages one criterion over several outputs (e.g. HACNN's global and local branches)
"""
from .center_loss import CenterLoss
from .cross_entropy_loss import CrossEntropyLoss
from .deep_supervision import DeepSupervision, apply_criterion
from .triplet_loss import TripletLoss

__all__ = ['CrossEntropyLoss', 'TripletLoss', 'CenterLoss', 'DeepSupervision', 'apply_criterion']
