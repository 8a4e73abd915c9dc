"""Random2DTranslation geometry, the fused normalisation, and the fast pipelines against the seed's PIL pipelines."""
import random

import numpy as np
import pytest
import torch
import torchvision.transforms as T
from PIL import Image

from torchreid.data import transforms as transforms_module
from torchreid.data.transforms import (IMAGENET_MEAN, IMAGENET_STD, Random2DTranslation, ToNormalizedTensor,
                                       build_seed_transforms, build_transforms)

# One grey level of a normalised tensor is 1 / (255 * std); the smallest std is 0.224.
GREY_LEVEL = 1.0 / (255 * min(IMAGENET_STD))


def person_like_image(seed, size=(32, 64)):
    """A smooth random RGB image (width, height) = size, like a blurry pedestrian crop."""
    rng = np.random.default_rng(seed)
    coarse = Image.fromarray(rng.integers(0, 256, (8, 4, 3), dtype=np.uint8))
    smooth = np.asarray(coarse.resize(size, Image.BICUBIC)).astype(np.int16)
    noisy = smooth + rng.integers(-12, 13, smooth.shape)
    return Image.fromarray(noisy.clip(0, 255).astype(np.uint8))


class ScriptedRandom(object):
    """Stands in for the ``random`` module: ``uniform(a, b)`` returns the scripted fractions of [a, b] in turn."""

    def __init__(self, fractions):
        self.fractions = list(fractions)

    def uniform(self, low, high):
        return low + self.fractions.pop(0) * (high - low)


def test_enlarged_size_rounds_one_point_one_two_five():
    assert Random2DTranslation(256, 128).enlarged_size() == (288, 144)
    assert Random2DTranslation(10, 5).enlarged_size() == (11, 6)  # 11.25 -> 11, 5.625 -> 6


def test_translation_not_taken_is_a_plain_resize(monkeypatch):
    img = person_like_image(0)
    monkeypatch.setattr(transforms_module, 'random', ScriptedRandom([0.75]))  # coin 0.75 > p=0.5
    out = Random2DTranslation(48, 24)(img)
    assert np.array_equal(np.asarray(out), np.asarray(img.resize((24, 48), Image.BILINEAR)))


@pytest.mark.parametrize('x_fraction,y_fraction,expected_x1,expected_y1', [
    (0.0, 0.0, 0, 0),
    (1.0, 1.0, 3, 6),      # enlarged to 54 x 27: x1 in [0, 3], y1 in [0, 6]
    (0.5, 0.5, 2, 3),      # round(1.5) = 2 (python rounds half to even), round(3.0) = 3
    (0.4, 0.9, 1, 5),      # round(1.2) = 1, round(5.4) = 5
])
def test_translation_crops_the_enlarged_image_at_the_drawn_corner(monkeypatch, x_fraction, y_fraction,
                                                                   expected_x1, expected_y1):
    img = person_like_image(1)
    monkeypatch.setattr(transforms_module, 'random', ScriptedRandom([0.25, x_fraction, y_fraction]))
    out = Random2DTranslation(48, 24)(img)
    enlarged = img.resize((27, 54), Image.BILINEAR)
    expected = enlarged.crop((expected_x1, expected_y1, expected_x1 + 24, expected_y1 + 48))
    assert out.size == (24, 48)
    assert np.array_equal(np.asarray(out), np.asarray(expected))


def test_translation_probability_and_tensor_input():
    img = torch.arange(3 * 16 * 8, dtype=torch.uint8).view(3, 16, 8)
    random.seed(0)
    never = [Random2DTranslation(16, 8, p=0.0)(img) for _ in range(20)]
    assert all(torch.equal(out, never[0]) for out in never)  # always the same plain resize (same size: identity)
    assert torch.equal(never[0], img)
    always = [Random2DTranslation(16, 8, p=1.0)(img) for _ in range(40)]
    assert all(out.shape == (3, 16, 8) and out.dtype == torch.uint8 for out in always)
    assert len({out.numpy().tobytes() for out in always}) > 5  # several crop positions were drawn


def test_to_normalized_tensor_fuses_to_tensor_and_normalize():
    img = person_like_image(2)
    uint8_chw = torch.from_numpy(np.array(img)).permute(2, 0, 1)  # channels-last strides, as PILToTensor gives
    expected = T.Normalize(IMAGENET_MEAN, IMAGENET_STD)(T.ToTensor()(img))
    out = ToNormalizedTensor()(uint8_chw)
    assert out.dtype == torch.float32 and out.is_contiguous() and out.shape == (3, 64, 32)
    assert torch.allclose(out, expected, atol=1e-5)
    with pytest.raises(TypeError, match='uint8 image tensor'):
        ToNormalizedTensor()(expected)


def test_fast_test_transform_nearly_equals_the_seed_pipeline():
    fast_test = build_transforms(64, 32)[1]
    seed_test = build_seed_transforms(64, 32)[1]
    for seed, size in [(3, (32, 64)), (4, (24, 80)), (5, (50, 130))]:
        img = person_like_image(seed, size)
        diff = (fast_test(img) - seed_test(img)).abs()
        # torch's uint8 resize rounds a fifth of the pixels one grey level away from Pillow's; a shifted or
        # differently filtered image would differ by tens of levels.
        assert diff.max().item() <= 2 * GREY_LEVEL + 1e-5
        assert diff.mean().item() <= 0.3 * GREY_LEVEL


def test_fast_train_transform_draws_like_the_seed_pipeline():
    images = [person_like_image(seed, (32, 64)) for seed in range(12)]
    fast_train = build_transforms(64, 32)[0]
    seed_train = build_seed_transforms(64, 32)[0]
    random.seed(11)
    torch.manual_seed(11)
    expected = [seed_train(img) for img in images]
    states_after_seed = random.getstate(), torch.get_rng_state()
    random.seed(11)
    torch.manual_seed(11)
    outputs = [fast_train(img) for img in images]
    # Same draws: both pipelines consumed the same python and torch random numbers...
    assert random.getstate() == states_after_seed[0]
    assert torch.equal(torch.get_rng_state(), states_after_seed[1])
    # ... and made the same crops and flips (a different crop or flip would differ by far more than 2 levels).
    for out, ref in zip(outputs, expected):
        assert out.shape == (3, 64, 32) and out.is_contiguous()
        assert (out - ref).abs().max().item() <= 2 * GREY_LEVEL + 1e-5


def test_pipelines_say_their_decode_size():
    train, test = build_transforms(256, 128)
    assert train.decode_size == (288, 144)
    assert test.decode_size == (256, 128)


def test_random_erasing_option_blanks_rectangles_to_the_mean():
    img = person_like_image(6)
    plain = build_transforms(64, 32)[0]
    erasing = build_transforms(64, 32, random_erase=True)[0]
    torch.manual_seed(0)
    random.seed(0)
    outputs = [erasing(img) for _ in range(20)]
    zero_counts = [(out == 0).all(dim=0).sum().item() for out in outputs]
    assert max(zero_counts) >= 0.02 * 64 * 32  # an erased area of at least 2% of the image, filled with 0
    assert min(zero_counts) == 0  # p=0.5: some images are left alone
    assert all((plain(img) == 0).all(dim=0).sum().item() == 0 for _ in range(5))


def test_color_jitter_option_changes_colours_reproducibly():
    img = person_like_image(7)
    jitter = build_transforms(64, 32, color_jitter=True)[0]
    plain = build_transforms(64, 32)[0]
    torch.manual_seed(1)
    random.seed(1)
    first = jitter(img)
    torch.manual_seed(1)
    random.seed(1)
    again = jitter(img)
    torch.manual_seed(1)
    random.seed(1)
    unjittered = plain(img)
    assert torch.equal(first, again)
    assert (first - unjittered).abs().mean().item() > 1 * GREY_LEVEL
