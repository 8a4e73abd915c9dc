"""Helpers that act on torch modules."""
import torch.nn as nn


def count_num_param(model):
    """Parameter count in millions, excluding ``model.classifier`` when present (the seed's "Model size")."""
    model = getattr(model, 'module', model)
    num_param = sum(p.numel() for p in model.parameters())
    classifier = getattr(model, 'classifier', None)
    if isinstance(classifier, nn.Module):
        num_param -= sum(p.numel() for p in classifier.parameters())
    return num_param / 1e6


def set_bn_to_eval(module):
    """Put BatchNorm layers in eval mode (freezes running statistics; affine parameters still train)."""
    if 'BatchNorm' in module.__class__.__name__:
        module.eval()
