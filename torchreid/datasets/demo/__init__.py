"""Built-in demo datasets, generated on first use: ``-d demo`` (images), ``-d demo_duke`` (images of a second
domain, for cross-domain runs such as ``-s demo -t demo demo_duke``) and ``-d demovideo`` (tracklets).

They need no download, so every script, test and tutorial runs out of the box. The pictures are procedurally drawn
pedestrians (see :mod:`.drawing`) whose identities differ in learnable ways, seen by cameras that differ in
lighting, background, framing and blur. The data is written in the exact layout and file naming of Market-1501
(``demo``), DukeMTMC-reID (``demo_duke``) and DukeMTMC-VideoReID (``demovideo``) and read by those readers' own code,
so the demo exercises the same path as the real benchmarks.
"""
import os

from ..base import check_required_paths
from ..dukemtmcreid import DukeMTMCreID
from ..dukemtmcvidreid import DukeMTMCVidReID
from ..market1501 import Market1501
from .generate import (DEMO_SEED, DUKE_DEMO_SIZES, IMAGE_DEMO_SIZES, VIDEO_DEMO_SIZES, ensure_generated,
                       generate_duke_style_demo, generate_image_demo, generate_video_demo)

__all__ = ['DemoImageDataset', 'DemoDukeDataset', 'DemoVideoDataset', 'generate_image_demo',
           'generate_duke_style_demo', 'generate_video_demo']


class DemoImageDataset(Market1501):
    """Demo image dataset in Market-1501's layout under ``<root>/demo``, generated there when missing.

    Train 75 ids / 598 images, query 40 / 126, gallery 41 / 297 (the 40 test ids and the distractors' pid 0; the
    20 junk images are dropped as in Market-1501), 6 cameras, 128x64 pictures. Delete the folder to regenerate.
    """
    dataset_dir = 'demo'
    docs_section = 'Demo datasets'

    layout = """\
<root>/demo/     (generated automatically; delete the folder to regenerate it)
    bounding_box_train/  query/  bounding_box_test/     <pid>_c<camera>s1_<frame>_00.jpg"""

    def __init__(self, root='data', verbose=True, **kwargs):
        folder = os.path.join(root, self.dataset_dir)
        ensure_generated(folder, generate_image_demo, DEMO_SEED, IMAGE_DEMO_SIZES)
        check_required_paths([os.path.join(folder, name) for name in ('bounding_box_train', 'query',
                                                                      'bounding_box_test')],
                             self.layout, self.docs_section)
        super(DemoImageDataset, self).__init__(root=root, verbose=verbose, **kwargs)


class DemoDukeDataset(DukeMTMCreID):
    """The second demo domain, in DukeMTMC-reID's layout under ``<root>/demo_duke``, generated there when missing.

    Other people (winter clothes) seen by other cameras (8 dim, tinted outdoor cameras, farther away, blurrier)
    than ``demo``: a model trained on ``demo`` loses much of its Rank-1 here, the domain gap of cross-domain
    papers. Train 75 ids / 559 images, query 40 / 117, gallery 60 / 284 (the 40 test ids and 20 gallery-only
    distractor ids), 8 cameras, 128x64 pictures. Delete the folder to regenerate.
    """
    dataset_dir = 'demo_duke'
    docs_section = 'Demo datasets'
    layout = """\
<root>/demo_duke/     (generated automatically; delete the folder to regenerate it)
    DukeMTMC-reID/bounding_box_train/  query/  bounding_box_test/     <pid>_c<camera>_f<frame:07d>.jpg"""

    def __init__(self, root='data', verbose=True, **kwargs):
        folder = os.path.join(root, self.dataset_dir)
        ensure_generated(folder, generate_duke_style_demo, DEMO_SEED, DUKE_DEMO_SIZES)
        check_required_paths([os.path.join(folder, self.raw_folder, name) for name in (
            'bounding_box_train', 'query', 'bounding_box_test')], self.layout, self.docs_section)
        super(DemoDukeDataset, self).__init__(root=root, verbose=verbose, **kwargs)


class DemoVideoDataset(DukeMTMCVidReID):
    """Demo video dataset in DukeMTMC-VideoReID's layout under ``<root>/demovideo``, generated there when missing.

    Train 60 ids / 213 tracklets, query 40 / 40, gallery 50 / 73 (the 40 test ids and 10 distractor ids), 3 to 6
    frames per tracklet (947 train frames), 6 cameras, 128x64 pictures. Delete the folder to regenerate.
    """
    dataset_dir = 'demovideo'
    docs_section = 'Demo datasets'
    layout = """\
<root>/demovideo/     (generated automatically; delete the folder to regenerate it)
    DukeMTMC-VideoReID/{train,query,gallery}/<pid>/<tracklet id>/<pid>_C<camera>_F<frame>_X<n>.jpg"""

    def fetch_missing_data(self):
        """Generate the demo tree (instead of downloading the real dataset)."""
        ensure_generated(self.dataset_dir, generate_video_demo, DEMO_SEED, VIDEO_DEMO_SIZES)
