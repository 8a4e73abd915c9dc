"""The initialisation torchreid 1.x gives the models it defines itself (OSNet, OSNet-AIN, MLFN, MobileNetV2), so
that models trained from scratch here start as they did there."""
import torch.nn as nn


def init_like_authors(model, keep=()):
    """Kaiming-normal (fan-out) convs with zero biases, unit-weight zero-bias BatchNorm and affine InstanceNorm,
    N(0, 0.01) linear layers with zero biases. Modules in ``keep`` (e.g. a BNNeck classifier) are left as they are."""
    kept = {id(module) for module in keep}
    for module in model.modules():
        if id(module) in kept:
            continue
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, mode='fan_out', nonlinearity='relu')
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, (nn.BatchNorm2d, nn.BatchNorm1d)) or (
                isinstance(module, nn.InstanceNorm2d) and module.affine):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, std=0.01)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
