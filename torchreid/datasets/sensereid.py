"""SenseReID (Zhao et al., CVPR 2017): a test-only benchmark (evaluate a model trained elsewhere with --evaluate)."""
import os

from .base import BaseImageDataset, check_required_paths, first_existing_dir, relabel

LAYOUT = """\
<root>/sensereid/SenseReID/        (a bare <root>/SenseReID/ works too)
    test_probe/<pid>_<camera>.jpg ...     (1,040 images)
    test_gallery/<pid>_<camera>.jpg ...   (3,388 images)"""


def read_sensereid_folder(folder):
    """``(path, pid, camera number)`` of the ``<pid>_<camera>.jpg`` images of ``folder``, sorted by name."""
    samples = []
    for name in sorted(os.listdir(folder)):
        stem, extension = os.path.splitext(name)
        if extension.lower() != '.jpg':
            continue
        fields = stem.split('_')
        if len(fields) != 2 or not (fields[0].isdigit() and fields[1].isdigit()):
            raise ValueError("'{}' is not a SenseReID image name ('<pid>_<camera>.jpg')".format(
                os.path.join(folder, name)))
        samples.append((os.path.join(folder, name), int(fields[0]), int(fields[1])))
    return samples


class SenseReID(BaseImageDataset):
    """SenseReID: query = ``test_probe``, gallery = ``test_gallery``; pids as in the file names.

    The camera numbers of the file names are mapped, in sorted order over both folders, to camids 0..C-1.
    There is no training set: ``train`` is a copy of the query relabelled 0..N-1, only there so a model and the
    loaders can be built; use ``--evaluate``. The printed table has no train row, and the "total" row counts the
    ids of query and gallery together. Statistics: query 522 ids / 1,040 images, gallery 1,717 / 3,388.

    Args:
        root (str): folder holding ``sensereid/`` (or a bare ``SenseReID/``).
    """
    dataset_dir = 'sensereid'
    raw_folder = 'SenseReID'
    docs_section = 'SenseReID'
    evaluation_only = True

    def __init__(self, root='data', verbose=True, **kwargs):
        data_dir = first_existing_dir([os.path.join(root, self.dataset_dir, self.raw_folder),
                                       os.path.join(root, self.raw_folder)], marker='test_probe')
        query_dir = os.path.join(data_dir, 'test_probe')
        gallery_dir = os.path.join(data_dir, 'test_gallery')
        check_required_paths([query_dir, gallery_dir], LAYOUT, self.docs_section)

        query = read_sensereid_folder(query_dir)
        gallery = read_sensereid_folder(gallery_dir)
        cameras = sorted({camera for _, _, camera in query + gallery})
        camid_of = {camera: camid for camid, camera in enumerate(cameras)}
        query = [(path, pid, camid_of[camera]) for path, pid, camera in query]
        gallery = [(path, pid, camid_of[camera]) for path, pid, camera in gallery]
        super(SenseReID, self).__init__(relabel(query), query, gallery, verbose=verbose,
                                        total_ids=len({pid for _, pid, _ in query + gallery}),
                                        total_images=len(query) + len(gallery))

    def statistics_rows(self):
        return super(SenseReID, self).statistics_rows()[1:]
