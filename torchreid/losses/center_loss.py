"""Center loss (Wen et al., ECCV'16): pulls each feature towards a learnt centre of its identity."""
import torch
import torch.nn as nn


class CenterLoss(nn.Module):
    """loss = mean over the batch of ||f_i - c_{y_i}||^2 (clamped to [1e-12, 1e12], as the seed).

    The centres (num_classes, feat_dim) are parameters of this module: give them to an optimizer.
    """

    def __init__(self, num_classes, feat_dim):
        super().__init__()
        self.num_classes = num_classes
        self.feat_dim = feat_dim
        self.centers = nn.Parameter(torch.randn(num_classes, feat_dim))

    def forward(self, features, targets):
        """features: (B, feat_dim); targets: (B,) identity labels. Returns a scalar."""
        if features.size(1) != self.feat_dim:
            raise ValueError('center loss expects {}-dim features, got {}'.format(self.feat_dim, features.size(1)))
        own_centers = self.centers[targets]
        squared_distances = (features.float() - own_centers).pow(2).sum(dim=1)
        return squared_distances.clamp(min=1e-12, max=1e12).mean()

    def extra_repr(self):
        return 'num_classes={}, feat_dim={}'.format(self.num_classes, self.feat_dim)
