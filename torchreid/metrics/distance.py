"""Query-gallery distance matrices from feature matrices."""
import torch
import torch.nn.functional as F

METRICS = ('euclidean', 'cosine')


def as_feature_matrix(features, name):
    """A 2-D float tensor of features (numpy arrays are converted; float16/bfloat16 are computed in float32)."""
    if not torch.is_tensor(features):
        features = torch.as_tensor(features)
    if features.dim() != 2:
        raise ValueError('{} must be a 2-D (num_images, feature_dim) matrix, got shape {}'.format(
            name, tuple(features.shape)))
    if not features.is_floating_point():
        features = features.float()
    elif features.dtype in (torch.float16, torch.bfloat16):
        features = features.float()
    return features


def check_metric(metric):
    if metric not in METRICS:
        raise ValueError('unknown distance metric {!r}; choose one of {}'.format(metric, METRICS))


def pairwise_distance(query_features, gallery_features, metric):
    """(m, d) x (n, d) -> (m, n) distances; the single place that defines both metrics.

    euclidean: *squared* Euclidean distance ||q||^2 + ||g||^2 - 2 q.g (as the seed: no square root, no clamp, so
    tiny negative values can appear). cosine: 1 - cos(q, g) (features are L2-normalised first).
    """
    if metric == 'euclidean':
        query_sq = query_features.pow(2).sum(dim=1, keepdim=True)
        gallery_sq = gallery_features.pow(2).sum(dim=1, keepdim=True).t()
        return torch.addmm(query_sq + gallery_sq, query_features, gallery_features.t(), beta=1, alpha=-2)
    query_unit = F.normalize(query_features, p=2, dim=1)
    gallery_unit = F.normalize(gallery_features, p=2, dim=1)
    return 1 - torch.mm(query_unit, gallery_unit.t())


def compute_distance_matrix(input1, input2, metric='euclidean'):
    """(m, d) and (n, d) features (torch or numpy) -> (m, n) float torch tensor on input1's device.

    metric: 'euclidean' (squared, as the seed) or 'cosine' (1 - cosine similarity). Pass the result to
    ``evaluate_rank``. For large galleries, ``evaluate_features`` gives the same metrics without this matrix.
    """
    check_metric(metric)
    input1 = as_feature_matrix(input1, 'input1')
    input2 = as_feature_matrix(input2, 'input2').to(input1.device)
    if input1.shape[1] != input2.shape[1]:
        raise ValueError('feature dimensions differ: input1 has {}, input2 has {}'.format(
            input1.shape[1], input2.shape[1]))
    if input1.dtype != input2.dtype:
        input2 = input2.to(input1.dtype)
    return pairwise_distance(input1, input2, metric)
