"""The dataset registry: names, unknown keys, split ids of single-split datasets, registering a dataset."""
import os

import pytest

from torchreid import datasets


def test_names_list_image_then_video_keys():
    names = datasets.get_names()
    assert names[:10] == ['market1501', 'cuhk03', 'dukemtmcreid', 'msmt17', 'viper', 'grid', 'cuhk01', 'prid450s',
                          'ilids', 'sensereid']
    assert names.index('demo') < names.index('mars')
    assert set(datasets.get_video_names()) == {'mars', 'ilidsvid', 'prid2011', 'dukemtmcvidreid', 'demovideo'}


def test_unknown_key_lists_the_valid_ones():
    with pytest.raises(KeyError, match="Invalid dataset, got 'market'.*market1501"):
        datasets.init_imgreid_dataset('market')
    with pytest.raises(KeyError, match="expected to be one of.*'mars'"):
        datasets.init_vidreid_dataset('market1501')


def test_split_id_of_a_single_split_dataset_is_an_error_not_ignored(tmp_path):
    with pytest.raises(ValueError, match="'demo' has a single split; split_id .* must be 0, got 3"):
        datasets.init_imgreid_dataset('demo', root=str(tmp_path), split_id=3)
    assert not os.listdir(str(tmp_path))   # rejected before anything was generated


def test_registered_dataset_is_built_by_name(tmp_path):
    class TwoImages(datasets.BaseImageDataset):
        def __init__(self, root='data', verbose=True, **kwargs):
            train = [(os.path.join(root, 'a.jpg'), 7, 0)]
            query = [(os.path.join(root, 'b.jpg'), 3, 0)]
            gallery = [(os.path.join(root, 'c.jpg'), 3, 1)]
            super(TwoImages, self).__init__(train, query, gallery, verbose=verbose)

    datasets.register_image_dataset('two_images_test', TwoImages)
    try:
        dataset = datasets.init_imgreid_dataset('two_images_test', root=str(tmp_path), verbose=False)
        counts = (dataset.num_train_pids, dataset.num_query_pids, dataset.num_gallery_pids, dataset.num_cams)
        assert counts == (1, 1, 1, 2)
        with pytest.raises(ValueError, match='already registered'):
            datasets.register_image_dataset('two_images_test', TwoImages)
    finally:
        datasets._image_datasets.pop('two_images_test')
