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


def uniform_image(rgb, size=(32, 64)):
    """A PIL image (width, height) = size of one colour."""
    return Image.new('RGB', size, tuple(rgb))


def test_normalisation_uses_the_imagenet_statistics_per_channel():
    # hand-written constants (not the module's): mean (0.485, 0.456, 0.406), std (0.229, 0.224, 0.225), R, G, B
    expected = [(0 / 255 - 0.485) / 0.229, (128 / 255 - 0.456) / 0.224, (255 / 255 - 0.406) / 0.225]
    assert expected == pytest.approx([-2.117904, 0.2051821, 2.64])
    img = torch.tensor([0, 128, 255], dtype=torch.uint8).view(3, 1, 1).expand(3, 4, 2)
    assert ToNormalizedTensor()(img)[:, 0, 0].tolist() == pytest.approx(expected, abs=1e-5)
    # the test pipeline of a one-colour image is that colour everywhere (resizing a flat image keeps it flat)
    test_transform = build_transforms(16, 8)[1]
    out = test_transform(uniform_image((0, 128, 255), size=(20, 50)))
    assert out.shape == (3, 16, 8)
    for channel in range(3):
        assert torch.allclose(out[channel], torch.full((16, 8), expected[channel]), atol=1e-5)


def test_test_pipeline_output_is_height_by_width_and_keeps_the_image_upright():
    # top half red, bottom half blue: a swapped (width, height) resize or a transposition would mix them
    img = np.zeros((60, 20, 3), dtype=np.uint8)
    img[:30, :, 0] = 255
    img[30:, :, 2] = 255
    out = build_transforms(12, 4)[1](Image.fromarray(img))
    assert out.shape == (3, 12, 4)
    red, blue = (255 / 255 - 0.485) / 0.229, (255 / 255 - 0.406) / 0.225
    assert torch.allclose(out[0, :5], torch.full((5, 4), red), atol=1e-5)
    assert torch.allclose(out[2, 7:], torch.full((5, 4), blue), atol=1e-5)


def test_train_flip_has_probability_one_half():
    # left half black, right half white; the translation keeps the halves apart, so column 0 tells a flip
    img = np.zeros((64, 32, 3), dtype=np.uint8)
    img[:, 16:] = 255
    train = build_transforms(64, 32)[0]
    random.seed(2)
    torch.manual_seed(2)
    flipped = [bool(train(Image.fromarray(img))[0, :, 0].mean() > 0) for _ in range(200)]
    assert 70 <= sum(flipped) <= 130  # binomial(200, 0.5): mean 100, sd 7


def test_random_erasing_area_is_2_to_33_percent_of_the_image():
    img = uniform_image((200, 30, 90))
    erasing = build_transforms(64, 32, random_erase=True)[0]
    torch.manual_seed(3)
    random.seed(3)
    fractions = [(erasing(img) == 0).all(dim=0).float().mean().item() for _ in range(300)]
    erased = [f for f in fractions if f > 0]
    assert 110 <= len(erased) <= 190  # p=0.5 of 300
    # rectangles of 2%..33% of the area, up to the rounding of their sides
    assert min(erased) >= 0.015 and max(erased) <= 0.35
    assert min(erased) <= 0.05 and max(erased) >= 0.25


def test_color_jitter_scales_brightness_by_at_most_20_percent():
    # a flat grey image: contrast jitter leaves it flat, brightness multiplies it by a factor in [0.8, 1.2]
    img = uniform_image((100, 100, 100))
    jitter = build_transforms(16, 8, color_jitter=True)[0]
    torch.manual_seed(4)
    random.seed(4)
    grey_levels = []
    for _ in range(200):
        out = jitter(img)
        grey_levels.append(round((out[0, 0, 0].item() * 0.229 + 0.485) * 255))
    # (the uint8 result is truncated: 0.8 * 100 can come out as 79)
    assert 79 <= min(grey_levels) <= 84 and 116 <= max(grey_levels) <= 120
