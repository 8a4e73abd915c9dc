"""torchreid 1.x's ``torchreid.utils`` names that need the models: ``FeatureExtractor``,
``load_pretrained_weights`` and ``resume_from_checkpoint``, as thin adapters over this package's extractor and
its one weight loader (:func:`torchreid.models.loading.load_weights`, which maps 1.x's layer names).

``torchreid.utils`` hands these out on first use (it sits below the models and must not import them).
"""
import warnings

import torch

from ..data.transforms import build_transforms
from ..utils.checkpoint import load_checkpoint
from ..utils.model_complexity import compute_model_complexity
from . import feature_extractor
from .loading import load_weights


def load_pretrained_weights(model, weight_path):
    """Load the layers of ``weight_path`` whose names and shapes fit ``model`` (1.x's partial load); the others
    keep their values and a warning lists them. Returns the :class:`~torchreid.utils.checkpoint.LoadReport`."""
    report = load_weights(model, weight_path, allow_partial=True)
    print('Successfully loaded pretrained weights from "{}"'.format(weight_path))
    return report


def resume_from_checkpoint(fpath, model, optimizer=None, scheduler=None):
    """Load a checkpoint's weights into ``model`` (strictly) and, when given and stored, the optimizer and
    scheduler states; returns the stored ``epoch`` (1.x files count completed epochs: the epoch to start from)."""
    print('Loading checkpoint from "{}"'.format(fpath))
    checkpoint = load_checkpoint(fpath)
    load_weights(model, checkpoint, strict=True)
    print('Loaded model weights')
    for name, target in (('optimizer', optimizer), ('scheduler', scheduler)):
        if target is not None and checkpoint.get(name) is not None:
            target.load_state_dict(checkpoint[name])
            print('Loaded {}'.format(name))
    start_epoch = checkpoint['epoch']
    print('Last epoch = {}'.format(start_epoch))
    if 'rank1' in checkpoint:
        print('Last rank1 = {:.1%}'.format(float(checkpoint['rank1'])))
    return start_epoch


def resolve_device(device):
    """``device``, or the CPU with a warning when CUDA is asked for (1.x's default) but there is no CUDA GPU."""
    device = torch.device(device)
    if device.type == 'cuda' and not torch.cuda.is_available():
        warnings.warn("FeatureExtractor: device='{}' (torchreid 1.x's default) but no CUDA GPU is available; "
                      "running on the CPU. Pass device='cpu' to silence this warning.".format(device), stacklevel=3)
        return torch.device('cpu')
    return device


class FeatureExtractor(object):
    """torchreid 1.x's extractor: ``FeatureExtractor(model_name='osnet_x1_0', model_path='model.pth.tar')`` then
    ``features = extractor(list_of_paths_or_rgb_arrays)`` -> (N, D) tensor on ``device``.

    Inputs as 1.x: image paths, RGB uint8 arrays (H, W, C), lists of those, or float tensors (C, H, W) /
    (B, C, H, W) already preprocessed. Images are resized to ``image_size`` and normalised with ``pixel_mean`` /
    ``pixel_std`` (not at all when ``pixel_norm=False``). ``model_path`` may be a checkpoint of ours (then
    ``model_name`` may be '' and the model comes from its record) or of 1.x; a path that is no file is an error
    (1.x warned and used ImageNet weights). On a machine without CUDA the default ``device='cuda'`` falls back to
    the CPU with a warning. The work is :class:`torchreid.models.feature_extractor.FeatureExtractor`'s.
    """

    def __init__(self, model_name='', model_path='', image_size=(256, 128), pixel_mean=[0.485, 0.456, 0.406],
                 pixel_std=[0.229, 0.224, 0.225], pixel_norm=True, device='cuda', verbose=True):
        self.device = resolve_device(device)
        self.extractor = feature_extractor.FeatureExtractor(model=model_name or None, weights=model_path or None,
                                                            device=self.device, image_size=tuple(image_size))
        mean, std = (tuple(pixel_mean), tuple(pixel_std)) if pixel_norm else ((0., 0., 0.), (1., 1., 1.))
        _, self.extractor.transform = build_transforms(*self.extractor.image_size, mean=mean, std=std)
        self.model = self.extractor.model
        if verbose:
            num_params, flops = compute_model_complexity(self.model, (1, 3) + self.extractor.image_size)
            print('Model: {}'.format(model_name or type(self.model).__name__))
            print('- params: {:,}'.format(num_params))
            print('- flops: {:,}'.format(flops))

    def __call__(self, input):
        if isinstance(input, torch.Tensor) and input.is_floating_point() and input.dim() == 3:
            input = input.unsqueeze(0)
        return self.extractor(input).to(self.device)
