"""Train an image person re-identification model with cross entropy + hard-mining triplet loss; ``--evaluate`` to
test only.

    python train_imgreid_xent_htri.py -d market1501 -a resnet50 --num-instances 4 --save-dir log/resnet50-htri

All flags: ``python train_imgreid_xent_htri.py --help``. The loop itself lives in :mod:`torchreid.engine`.
"""
import sys

from torchreid.engine.runner import main

if __name__ == '__main__':
    sys.exit(main('image', 'xent_htri'))
