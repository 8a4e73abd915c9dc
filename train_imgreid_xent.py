"""Train an image person re-identification model with softmax cross entropy; ``--evaluate`` to test only.

    python train_imgreid_xent.py -d market1501 -a resnet50 --save-dir log/resnet50-xent-market1501

All flags: ``python train_imgreid_xent.py --help``. The loop itself lives in :mod:`torchreid.engine`.
"""
import sys

from torchreid.engine.runner import main

if __name__ == '__main__':
    sys.exit(main('image', 'xent'))
