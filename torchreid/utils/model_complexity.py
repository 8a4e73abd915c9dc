"""Parameter and FLOP counts of a model's test-time forward pass (torchreid 1.x's ``compute_model_complexity``)."""
import math
from collections import OrderedDict

import torch
import torch.nn as nn

CONV_LINEAR = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear)


def _kernel_elements(module, x):
    """Input elements behind one output element of a pooling layer."""
    if isinstance(module, (nn.AdaptiveMaxPool1d, nn.AdaptiveMaxPool2d, nn.AdaptiveMaxPool3d,
                           nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveAvgPool3d)):
        spatial = x.shape[2:]
        out = module.output_size
        out = [out] * len(spatial) if isinstance(out, int) else out
        return math.prod(math.ceil(size / (o or size)) for size, o in zip(spatial, out))
    kernel = module.kernel_size
    dims = 1 if isinstance(module, (nn.MaxPool1d, nn.AvgPool1d)) else 3 if isinstance(
        module, (nn.MaxPool3d, nn.AvgPool3d)) else 2
    return math.prod([kernel] * dims if isinstance(kernel, int) else kernel)


def layer_flops(module, x, y, only_conv_linear=True):
    """Operations of one call of a leaf layer: multiply-accumulates of conv / linear layers (plus one per output
    for a bias); unless ``only_conv_linear``, also comparisons / additions of pooling, activations and norms."""
    if isinstance(module, (nn.Conv1d, nn.Conv2d, nn.Conv3d)):
        per_output = math.prod(module.kernel_size) * module.in_channels / module.groups
        return int((per_output + (module.bias is not None)) * y.numel())
    if isinstance(module, nn.Linear):
        return int((module.in_features + (module.bias is not None)) * y.numel())
    if only_conv_linear:
        return 0
    if isinstance(module, (nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d, nn.AdaptiveMaxPool1d, nn.AdaptiveMaxPool2d,
                           nn.AdaptiveMaxPool3d)):
        return int((_kernel_elements(module, x) - 1) * y.numel())
    if isinstance(module, (nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d, nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d,
                           nn.AdaptiveAvgPool3d)):
        return int(_kernel_elements(module, x) * y.numel())
    if isinstance(module, (nn.ReLU, nn.ReLU6)):
        return y.numel()
    if isinstance(module, nn.LeakyReLU):
        return 3 * y.numel()
    if isinstance(module, (nn.modules.batchnorm._BatchNorm, nn.modules.instancenorm._InstanceNorm, nn.GroupNorm)):
        return (4 if module.affine else 2) * y.numel()
    if isinstance(module, nn.LayerNorm):
        return (4 if module.elementwise_affine else 2) * y.numel()
    return 0


@torch.no_grad()
def compute_model_complexity(model, input_size, verbose=False, only_conv_linear=True):
    """(number of parameters, FLOPs) of the leaf layers one eval-mode forward of a random ``input_size`` batch
    (e.g. (1, 3, 256, 128)) uses: layers unused at test time (the classifier) are not counted, a layer used twice
    counts its parameters once. ``verbose`` prints the totals per layer type."""
    calls = []

    def record(module, inputs, output):
        calls.append((module, layer_flops(module, inputs[0], output, only_conv_linear)))

    handles = [m.register_forward_hook(record) for m in model.modules() if not list(m.children())]
    was_training = model.training
    first = next(model.parameters(), None)
    try:
        model.eval()
        model(torch.rand(input_size, device=first.device if first is not None else 'cpu'))
    finally:
        for handle in handles:
            handle.remove()
        model.train(was_training)
    per_type = OrderedDict()
    seen = set()
    for module, flops in calls:
        params = 0 if id(module) in seen else sum(p.numel() for p in module.parameters())
        seen.add(id(module))
        totals = per_type.setdefault(type(module).__name__, [0, 0])
        totals[0] += params
        totals[1] += flops
    num_params = sum(t[0] for t in per_type.values())
    num_flops = sum(t[1] for t in per_type.values())
    if verbose:
        rule = '  ' + '-' * 55
        print('{}\n  Model complexity with input size {}\n{}'.format(rule, tuple(input_size), rule))
        for name, (params, flops) in per_type.items():
            print('  {} (params={:,}, flops={:,})'.format(name, params, flops))
        print('{}\n  Total (params={:,}, flops={:,})\n{}'.format(rule, num_params, num_flops, rule))
    return num_params, num_flops
