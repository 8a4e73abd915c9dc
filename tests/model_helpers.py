"""Models for tests: random weights with the BatchNorm statistics of one random batch, so that features have the
scale of a trained network's (a fresh model's running statistics make every feature nearly alike)."""
import warnings

import torch
import torch.nn as nn

from torchreid.models import init_model


def model_with_batch_statistics(key, size, num_classes=7, seed=0, **options):
    """``key`` (built with ``options``) in eval mode, its BatchNorm statistics taken from 8 random (3, *size)
    images."""
    torch.manual_seed(seed)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        model = init_model(key, num_classes=num_classes, pretrained=False, **options)
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    for norm in norms:
        norm.momentum = 1.0
    model.train()
    with torch.no_grad():
        model(torch.randn(8, 3, *size))
    for norm in norms:
        norm.momentum = 0.1
    return model.eval()
