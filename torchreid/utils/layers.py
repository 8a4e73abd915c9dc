"""Which layers train (torchreid 1.x's fixbase helpers): open all, or only some top-level children."""
import torch.nn as nn


def bare_model(model):
    """``model`` without its DataParallel / DistributedDataParallel wrapper."""
    return model.module if isinstance(model, (nn.DataParallel, nn.parallel.DistributedDataParallel)) else model


def check_open_layers(model, open_layers):
    """``open_layers`` (a name or a list) as a list; ValueError for a name that is no top-level child of
    ``model``."""
    model = bare_model(model)
    open_layers = [open_layers] if isinstance(open_layers, str) else list(open_layers)
    children = [name for name, _ in model.named_children()]
    missing = [name for name in open_layers if name not in children]
    if missing:
        raise ValueError('open_layers {} are not top-level children of {} (its children: {})'.format(
            missing, type(model).__name__, ', '.join(children)))
    return open_layers


def open_all_layers(model):
    """Train mode and ``requires_grad=True`` for every layer."""
    model.train()
    for param in model.parameters():
        param.requires_grad = True


def open_specified_layers(model, open_layers):
    """Only the top-level children named in ``open_layers`` (a name or a list) train (train mode, gradients);
    all the others are in eval mode with ``requires_grad=False``. ValueError for a name that is no child."""
    open_layers = check_open_layers(model, open_layers)
    for name, module in bare_model(model).named_children():
        is_open = name in open_layers
        module.train(is_open)
        for param in module.parameters():
            param.requires_grad = is_open
