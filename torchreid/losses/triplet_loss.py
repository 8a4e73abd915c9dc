"""Batch-hard triplet loss (Hermans et al., "In Defense of the Triplet Loss", 2017)."""
import torch.nn as nn
import torch.nn.functional as F


def pairwise_euclidean(features):
    """(B, D) features -> (B, B) Euclidean distances, clamped at 1e-12 before the square root (stable gradients)."""
    squared_norms = features.pow(2).sum(dim=1, keepdim=True)
    squared = squared_norms + squared_norms.t() - 2. * features @ features.t()
    return squared.clamp(min=1e-12).sqrt()


class TripletLoss(nn.Module):
    """For each anchor, the hardest positive (farthest same id, the anchor itself included) and the hardest
    negative (closest other id): loss = mean(max(0, d_ap - d_an + margin)).

    Works on the raw (unnormalised) features, as the seed. Each identity in the batch needs at least one other
    identity present, which the P x K identity sampler guarantees.
    """

    def __init__(self, margin=0.3):
        super().__init__()
        self.margin = margin

    def forward(self, features, targets):
        """features: (B, D); targets: (B,) identity labels. Returns a scalar."""
        distances = pairwise_euclidean(features.float())
        same_id = targets.unsqueeze(0) == targets.unsqueeze(1)
        if bool(same_id.all()):
            raise ValueError('the triplet loss needs at least two identities in a batch; use the identity '
                             'sampler (--num-instances) with --train-batch > --num-instances')
        hardest_positive = distances.masked_fill(~same_id, float('-inf')).max(dim=1).values
        hardest_negative = distances.masked_fill(same_id, float('inf')).min(dim=1).values
        return F.relu(hardest_positive - hardest_negative + self.margin).mean()

    def extra_repr(self):
        return 'margin={}'.format(self.margin)
