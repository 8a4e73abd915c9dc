"""FeatureExtractor: every input type gives the features the evaluation pipeline would, batching does not change
them, and trained weights load whatever the number of training identities."""
import numpy as np
import pytest
import torch
from PIL import Image

from torchreid.data import build_transforms
from torchreid.models import init_model
from torchreid.models.feature_extractor import FeatureExtractor
from torchreid.utils.checkpoint import CheckpointError, save_checkpoint

SIZE = (64, 32)


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    """An OSNet x0.25 'trained' for 751 identities (random weights, non-trivial BN statistics) and its checkpoint."""
    torch.manual_seed(0)
    model = init_model('osnet_x0_25', num_classes=751, pretrained=False)
    model.train()
    with torch.no_grad():
        model(torch.randn(4, 3, *SIZE))  # moves the BN running statistics away from 0 / 1
    folder = tmp_path_factory.mktemp('extractor')
    fpath = str(folder / 'osnet_market.pth.tar')
    save_checkpoint({'state_dict': model.state_dict(), 'rank1': 0.5, 'epoch': 0}, False, fpath)
    return model.eval(), fpath


@pytest.fixture(scope='module')
def image_files(tmp_path_factory):
    """Five PNG images of different sizes; returns (paths, numpy arrays)."""
    folder = tmp_path_factory.mktemp('images')
    rng = np.random.RandomState(0)
    paths, arrays = [], []
    for i, (height, width) in enumerate([(128, 64), (100, 40), (64, 32), (200, 90), (80, 30)]):
        array = rng.randint(0, 256, size=(height, width, 3), dtype=np.uint8)
        path = str(folder / 'img{}.png'.format(i))
        Image.fromarray(array).save(path)
        paths.append(path)
        arrays.append(array)
    return paths, arrays


def test_features_equal_model_on_the_test_transform_for_every_input_type(trained, image_files):
    model, fpath = trained
    paths, arrays = image_files
    extractor = FeatureExtractor('osnet_x0_25', weights=fpath, device='cpu', image_size=SIZE, batch_size=2)
    _, test_transform = build_transforms(*SIZE)
    with torch.no_grad():
        expected = model(torch.stack([test_transform(Image.open(p).convert('RGB')) for p in paths]))
    from_paths = extractor(paths)
    assert from_paths.shape == (5, 512) and from_paths.dtype == torch.float32
    torch.testing.assert_close(from_paths, expected, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(extractor([Image.open(p) for p in paths]), from_paths)
    torch.testing.assert_close(extractor(arrays), from_paths)
    torch.testing.assert_close(extractor([torch.from_numpy(a).permute(2, 0, 1) for a in arrays]), from_paths)
    torch.testing.assert_close(extractor(paths[1]), from_paths[1:2])  # a single item
    stack = np.stack([arrays[2], arrays[2]])
    torch.testing.assert_close(extractor(stack), from_paths[[2, 2]])
    preprocessed = torch.stack([test_transform(Image.open(p).convert('RGB')) for p in paths])
    torch.testing.assert_close(extractor(preprocessed), from_paths)


def test_batch_size_does_not_change_features(trained, image_files):
    model, _ = trained
    paths, _ = image_files
    one = FeatureExtractor(model, device='cpu', image_size=SIZE, batch_size=1)(paths)
    all_at_once = FeatureExtractor(model, device='cpu', image_size=SIZE, batch_size=8)(paths)
    torch.testing.assert_close(one, all_at_once, rtol=1e-4, atol=1e-5)


def test_empty_input_gives_an_empty_matrix(trained):
    model, _ = trained
    assert FeatureExtractor(model, device='cpu', image_size=SIZE)([]).shape == (0, 512)


def test_weights_of_another_architecture_are_rejected(trained):
    _, fpath = trained
    with pytest.raises(CheckpointError, match='do not fit'):
        FeatureExtractor('osnet_x0_5', weights=fpath, device='cpu', image_size=SIZE)


def test_bad_inputs_are_rejected(trained):
    model, _ = trained
    extractor = FeatureExtractor(model, device='cpu', image_size=SIZE)
    with pytest.raises(TypeError, match='cannot extract features from a int'):
        extractor([3])
    with pytest.raises(ValueError, match='uint8 RGB'):
        extractor([np.zeros((8, 4, 3), dtype=np.float32)])
    with pytest.raises(ValueError, match='preprocessed batch'):
        extractor(torch.zeros(3, 8, 4))
    with pytest.raises(TypeError, match='registry key or an nn.Module'):
        FeatureExtractor(42)
