"""Softmax cross entropy over identities, with optional label smoothing (Szegedy et al., CVPR'16)."""
import torch.nn as nn
import torch.nn.functional as F


class CrossEntropyLoss(nn.Module):
    """Cross entropy against targets ``(1 - epsilon) * onehot + epsilon / num_classes``.

    With ``label_smooth=False`` the targets are plain one-hot vectors (``nn.CrossEntropyLoss``, the seed's
    default). The loss is averaged over the batch.

    Args:
        num_classes (int): number of identities K; logits must have K columns.
        epsilon (float): smoothing weight in [0, 1).
        label_smooth (bool): smooth the targets (the seed's ``--label-smooth``).
    """

    def __init__(self, num_classes, epsilon=0.1, label_smooth=True):
        super().__init__()
        if not 0 <= epsilon < 1:
            raise ValueError('epsilon must be in [0, 1), got {}'.format(epsilon))
        self.num_classes = num_classes
        self.epsilon = epsilon if label_smooth else 0.
        self.label_smooth = label_smooth

    def forward(self, logits, targets):
        """logits: (B, K) float; targets: (B,) int64 class indices. Returns a scalar."""
        if logits.size(1) != self.num_classes:
            raise ValueError('logits have {} classes but the loss was built for {}'.format(
                logits.size(1), self.num_classes))
        # PyTorch's label_smoothing spreads epsilon uniformly over all K classes, exactly the seed's target.
        return F.cross_entropy(logits.float(), targets, label_smoothing=self.epsilon)

    def extra_repr(self):
        return 'num_classes={}, epsilon={}'.format(self.num_classes, self.epsilon)
