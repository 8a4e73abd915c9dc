"""Train a video person re-identification model with cross entropy + hard-mining triplet loss; ``--evaluate`` to
test only.

    python train_vidreid_xent_htri.py -d mars -a resnet50 --seq-len 15 --test-batch 2 --save-dir log/resnet50-htri-mars

Training is frame-level (as the seed) unless --train-clips; tracklet features are pooled over --seq-len frames.
All flags: ``python train_vidreid_xent_htri.py --help``. The loop itself lives in :mod:`torchreid.engine`.
"""
import sys

from torchreid.engine.runner import main

if __name__ == '__main__':
    sys.exit(main('video', 'xent_htri'))
