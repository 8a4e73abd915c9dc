"""Which layers train (torchreid 1.x's fixbase helpers): open all, or only some top-level children."""
import torch.nn as nn


def _bare(model):
    return model.module if isinstance(model, (nn.DataParallel, nn.parallel.DistributedDataParallel)) else model


def open_all_layers(model):
    """Train mode and ``requires_grad=True`` for every layer."""
    model.train()
    for param in model.parameters():
        param.requires_grad = True


def open_specified_layers(model, open_layers):
    """Only the top-level children named in ``open_layers`` (a name or a list) train (train mode, gradients);
    all the others are in eval mode with ``requires_grad=False``. ValueError for a name that is no child."""
    model = _bare(model)
    open_layers = [open_layers] if isinstance(open_layers, str) else list(open_layers)
    children = dict(model.named_children())
    missing = [name for name in open_layers if name not in children]
    if missing:
        raise ValueError('open_layers {} are not top-level children of {} (its children: {})'.format(
            missing, type(model).__name__, ', '.join(children)))
    for name, module in children.items():
        is_open = name in open_layers
        module.train(is_open)
        for param in module.parameters():
            param.requires_grad = is_open
