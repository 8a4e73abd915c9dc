"""Image transforms: the seed's Random2DTranslation and the train/test pipelines.

The default pipelines (:func:`build_transforms`) work on uint8 tensors: the image is decoded straight into a
(3, H, W) uint8 tensor (:func:`torchreid.data.read_image_tensor`), resized with torch's native uint8 antialiased
bilinear kernel (a port of Pillow's), cropped by slicing, flipped, and turned into a normalised float tensor in one
step at the end. They draw the same random numbers as the seed's PIL pipeline (:func:`build_seed_transforms`) and
give the same tensor up to the rounding of the uint8 resize (about a fifth of the values one grey level away from
Pillow's, none more than 2). ``benchmarks/data_speed.py`` measures the speed-up.
"""
import random

import torch
import torchvision.transforms as T
from torchvision.transforms import InterpolationMode
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as F

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

# Random2DTranslation enlarges the image by this factor before cropping.
TRANSLATION_ENLARGE = 1.125


class Random2DTranslation(object):
    """Random translation by resize-then-crop, the seed's only geometric augmentation.

    With probability ``1 - p`` the image is resized to (height, width). Otherwise it is resized to
    (round(1.125 * height), round(1.125 * width)) and a height x width window is cropped, its top-left corner drawn
    uniformly (then rounded) in [0, new_width - width] x [0, new_height - height]. Draws from python ``random``
    exactly as the seed: the coin, then x, then y.

    Works on PIL images (exactly the seed's PIL calls) and on (C, H, W) tensors (uint8 stays uint8).
    """

    def __init__(self, height, width, p=0.5, interpolation=InterpolationMode.BILINEAR):
        self.height = height
        self.width = width
        self.p = p
        self.interpolation = interpolation

    def enlarged_size(self):
        """(height, width) of the enlarged image the crop is taken from."""
        return int(round(self.height * TRANSLATION_ENLARGE)), int(round(self.width * TRANSLATION_ENLARGE))

    def __call__(self, img):
        if random.uniform(0, 1) > self.p:
            return F.resize(img, [self.height, self.width], interpolation=self.interpolation, antialias=True)
        new_height, new_width = self.enlarged_size()
        resized = F.resize(img, [new_height, new_width], interpolation=self.interpolation, antialias=True)
        x1 = int(round(random.uniform(0, new_width - self.width)))
        y1 = int(round(random.uniform(0, new_height - self.height)))
        return F.crop(resized, y1, x1, self.height, self.width)

    def __repr__(self):
        return '{}(height={}, width={}, p={}, interpolation={})'.format(
            type(self).__name__, self.height, self.width, self.p, self.interpolation)


class ToUint8Tensor(object):
    """PIL image -> uint8 tensor (C, H, W) (a channels-last view of one copy of the pixels); uint8 tensors pass
    through, so a pipeline takes either a PIL image or the output of :func:`torchreid.data.read_image_tensor`."""

    def __call__(self, img):
        if isinstance(img, torch.Tensor):
            if img.dtype != torch.uint8 or img.dim() != 3:
                raise TypeError('expected a PIL image or a uint8 tensor (C, H, W), got a {} tensor of shape {}'
                                .format(img.dtype, tuple(img.shape)))
            return img
        return F.pil_to_tensor(img)

    def __repr__(self):
        return '{}()'.format(type(self).__name__)


class ToNormalizedTensor(object):
    """uint8 image tensor (C, H, W), any strides -> contiguous float32 (C, H, W) equal to ``(x / 255 - mean) / std``.

    Fuses ToTensor and Normalize: one conversion to float and two in-place passes, instead of the conversion, a
    division, a copy for the layout and two more passes.
    """

    def __init__(self, mean=IMAGENET_MEAN, std=IMAGENET_STD):
        self.mean = tuple(mean)
        self.std = tuple(std)
        self._offset = torch.tensor(self.mean, dtype=torch.float32).mul(255).view(-1, 1, 1)
        self._scale = torch.tensor(self.std, dtype=torch.float32).mul(255).reciprocal().view(-1, 1, 1)

    def __call__(self, img):
        if not isinstance(img, torch.Tensor) or img.dtype != torch.uint8:
            raise TypeError('ToNormalizedTensor expects a uint8 image tensor (C, H, W), got {}'.format(
                type(img).__name__ if not isinstance(img, torch.Tensor) else img.dtype))
        out = torch.empty(img.shape, dtype=torch.float32)
        out.copy_(img)
        return out.sub_(self._offset).mul_(self._scale)

    def __repr__(self):
        return '{}(mean={}, std={})'.format(type(self).__name__, self.mean, self.std)


class ImagePipeline(T.Compose):
    """A Compose that starts from a PIL image or a uint8 tensor (3, H, W), and says how large a source it needs.

    ``decode_size`` (height, width) is the largest size any of its resizes produces. ImageSampleDataset and
    TrackletSampleDataset read images for an ImagePipeline with ``read_image_tensor(path, decode_size)``: no PIL
    image in between, and large JPEGs decoded at reduced scale.
    """

    def __init__(self, transforms, decode_size):
        super().__init__(transforms)
        self.decode_size = tuple(decode_size)


def build_transforms(height, width, random_erase=False, color_jitter=False, mean=IMAGENET_MEAN, std=IMAGENET_STD):
    """The train and test transforms (PIL image or uint8 tensor in, normalised float tensor (3, height, width) out).

    Train: Random2DTranslation, horizontal flip (p=0.5), [colour jitter], to tensor + normalise, [random erasing].
    Test: resize to (height, width), to tensor + normalise. Without the options this is the seed's pipeline (same
    random draws), computed on uint8 tensors (see the module docstring).

    Args:
        height, width (int): network input size.
        random_erase (bool): torchvision RandomErasing (p=0.5, area 2%-33%, aspect 0.3-3.3) on the normalised
            tensor, filling with 0 (the mean colour). Zhong et al., "Random Erasing Data Augmentation", AAAI 2020.
        color_jitter (bool): brightness +-20% and contrast +-15%, after the flip.
        mean, std (sequence of 3 floats): normalisation (ImageNet statistics by default).

    Returns:
        (train_transform, test_transform), both :class:`ImagePipeline`.
    """
    translation = Random2DTranslation(height, width)
    train_steps = [ToUint8Tensor(), translation, T.RandomHorizontalFlip(p=0.5)]
    if color_jitter:
        train_steps.append(v2.ColorJitter(brightness=0.2, contrast=0.15, saturation=0, hue=0))
    train_steps.append(ToNormalizedTensor(mean, std))
    if random_erase:
        train_steps.append(v2.RandomErasing(p=0.5, scale=(0.02, 0.33), ratio=(0.3, 3.3), value=0))
    train_transform = ImagePipeline(train_steps, decode_size=translation.enlarged_size())
    test_transform = ImagePipeline([
        ToUint8Tensor(),
        v2.Resize((height, width), interpolation=InterpolationMode.BILINEAR, antialias=True),
        ToNormalizedTensor(mean, std),
    ], decode_size=(height, width))
    return train_transform, test_transform


def build_seed_transforms(height, width):
    """The seed's pipelines exactly: PIL resizes, then torchvision ToTensor and Normalize (ImageNet statistics).

    Kept as the oracle that :func:`build_transforms` is tested and benchmarked against. Returns (train, test).
    """
    normalize = T.Normalize(mean=IMAGENET_MEAN, std=IMAGENET_STD)
    train_transform = T.Compose([
        Random2DTranslation(height, width), T.RandomHorizontalFlip(), T.ToTensor(), normalize])
    test_transform = T.Compose([T.Resize((height, width)), T.ToTensor(), normalize])
    return train_transform, test_transform
