"""FeatureExtractor: every input type gives the features the evaluation pipeline would, batching does not change
them, trained weights load whatever the number of training identities, and a checkpoint's model record rebuilds
the trained model (options, input size, normalisation)."""
import pathlib

import numpy as np
import pytest
import torch
from PIL import Image

from torchreid.data import build_transforms
from torchreid.models import init_model
from torchreid.models.feature_extractor import FeatureExtractor
from torchreid.models.model_record import make_model_record
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
    with pytest.raises(ValueError, match='uint8 or uint16'):
        extractor([np.zeros((8, 4, 3), dtype=np.float32)])
    with pytest.raises(ValueError, match='preprocessed batch'):
        extractor(torch.zeros(3, 8, 4))
    with pytest.raises(TypeError, match='registry key, an nn.Module or None'):
        FeatureExtractor(42)
    with pytest.raises(ValueError, match="channel_order must be 'RGB' or 'BGR'"):
        FeatureExtractor(model, device='cpu', channel_order='bgr')
    with pytest.raises(ValueError, match='a model key is needed: no checkpoint given'):
        FeatureExtractor()


def test_numpy_channel_order_grayscale_and_pathlib(trained, image_files):
    model, _ = trained
    paths, arrays = image_files
    rgb = FeatureExtractor(model, device='cpu', image_size=SIZE)
    bgr = FeatureExtractor(model, device='cpu', image_size=SIZE, channel_order='BGR')
    expected = rgb(arrays)
    flipped = [np.ascontiguousarray(a[:, :, ::-1]) for a in arrays]
    torch.testing.assert_close(bgr(flipped), expected)  # OpenCV's BGR crops give the RGB features
    assert not torch.allclose(rgb(flipped), expected, atol=1e-3)  # ... which taking them as RGB would not
    torch.testing.assert_close(rgb([pathlib.Path(p) for p in paths]), rgb(paths))
    grey = arrays[0][:, :, 0]
    torch.testing.assert_close(rgb(grey), rgb(np.repeat(grey[:, :, None], 3, axis=2)))
    torch.testing.assert_close(bgr(grey), rgb(grey))  # one channel: no order
    torch.testing.assert_close(rgb([Image.fromarray(grey)]), rgb(grey))  # an 'L' PIL image


RESNET_OPTIONS = {'last_stride': 1, 'neck': 'bnneck', 'pooling': 'gem'}


@pytest.fixture(scope='module')
def strong_baseline(tmp_path_factory):
    """A ResNet-50 'trained' with --last-stride 1 --neck bnneck --pooling gem at 64x32: the model in eval mode,
    its checkpoint with the record the engine writes, and the same weights without a record."""
    torch.manual_seed(0)
    model = init_model('resnet50', num_classes=11, loss={'xent', 'htri'}, pretrained=False, **RESNET_OPTIONS)
    with torch.no_grad():
        model.global_pool.p.fill_(2.5)  # not the initial 3: the loaded value must be used
        model.bottleneck.bias.fill_(0.1)
        model.train()
        model(torch.randn(4, 3, *SIZE))
    folder = tmp_path_factory.mktemp('strong')
    record = make_model_record('resnet50', 11, {'xent', 'htri'}, RESNET_OPTIONS, SIZE, (0.485, 0.456, 0.406),
                               (0.229, 0.224, 0.225), model.feat_dim)
    with_record = save_checkpoint({'state_dict': model.state_dict(), 'rank1': 0.5, 'epoch': 3, 'model': record},
                                  fpath=str(folder / 'with_record.pth.tar'))
    without = save_checkpoint({'state_dict': model.state_dict(), 'rank1': 0.5, 'epoch': 3},
                              fpath=str(folder / 'without_record.pth.tar'))
    return model.eval(), with_record, without


def test_record_rebuilds_the_trained_model(strong_baseline, image_files):
    model, with_record, _ = strong_baseline
    paths, _ = image_files
    _, test_transform = build_transforms(*SIZE)
    with torch.no_grad():
        expected = model(torch.stack([test_transform(Image.open(p).convert('RGB')) for p in paths]))
    for extractor in (FeatureExtractor('resnet50', weights=with_record, device='cpu'),
                      FeatureExtractor(weights=with_record, device='cpu'),  # no key: the record's
                      FeatureExtractor('resnet50', weights=with_record, device='cpu', image_size=SIZE,
                                       model_options={'last_stride': 1, 'neck': 'bnneck'})):  # equal: fine
        assert extractor.image_size == SIZE  # from the record
        assert extractor.model.base[7][0].conv2.stride == (1, 1)
        torch.testing.assert_close(extractor(paths), expected, rtol=1e-4, atol=1e-5)
    assert torch.load(with_record, weights_only=True)['model']['options'] == \
        {'last_stride': 1, 'pooling': 'gem', 'neck': 'bnneck', 'neck_feat': None}


def test_options_contradicting_the_record_are_errors(strong_baseline):
    _, with_record, _ = strong_baseline
    with pytest.raises(CheckpointError, match=r"last_stride=2 \(the checkpoint was trained with 1\)"):
        FeatureExtractor('resnet50', weights=with_record, device='cpu', model_options={'last_stride': 2})
    with pytest.raises(CheckpointError, match=r"model 'osnet_x0_25' \(the checkpoint holds 'resnet50'\)"):
        FeatureExtractor('osnet_x0_25', weights=with_record, device='cpu')
    with pytest.raises(CheckpointError, match=r'height 256 \(the checkpoint was trained at 64x32\); width 128'):
        FeatureExtractor('resnet50', weights=with_record, device='cpu', image_size=(256, 128))
    with pytest.raises(CheckpointError, match=r"pooling='avg' \(the checkpoint was trained with 'gem'\)"):
        FeatureExtractor('resnet50', weights=with_record, device='cpu', model_options={'pooling': 'avg'})


def test_checkpoint_without_record_loads_as_before(strong_baseline, image_files):
    model, with_record, without = strong_baseline
    paths, _ = image_files
    with pytest.raises(CheckpointError, match=r"bottleneck .*global_pool|other head options"):
        FeatureExtractor('resnet50', weights=without, device='cpu', image_size=SIZE)  # key alone: no neck, no GeM
    with pytest.raises(ValueError, match='does not record its model'):
        FeatureExtractor(weights=without, device='cpu')
    extractor = FeatureExtractor('resnet50', weights=without, device='cpu', image_size=SIZE,
                                 model_options=RESNET_OPTIONS)
    torch.testing.assert_close(extractor(paths), FeatureExtractor(weights=with_record, device='cpu')(paths))
    assert FeatureExtractor('resnet50', weights=without, device='cpu', model_options=RESNET_OPTIONS).image_size == \
        (256, 128)  # no record: the default size
