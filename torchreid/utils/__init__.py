"""Small helpers with no better home: file I/O, meters, seeding, parameter counting, checkpoints, and torchreid
1.x's ``torchreid.utils`` names (``from torchreid.utils import FeatureExtractor, load_pretrained_weights, ...``).

Some of those live in layers above this one: ``FeatureExtractor``, ``load_pretrained_weights`` and
``resume_from_checkpoint`` (the models: 1.x's layer names are mapped there), ``re_ranking`` (metrics) and
``read_image`` (data). They are imported on first use (module ``__getattr__``), so importing torchreid.utils never
imports the models, the engine, data or metrics: dependencies still flow scripts -> engine -> models/data/metrics ->
utils.
"""
import importlib

from .avgmeter import AverageMeter
from .checkpoint import load_checkpoint
from .env_info import collect_env_info
from .epoch_checkpoint import save_checkpoint
from .files import check_isfile, download_url, listdir_nohidden
from .iotools import mkdir_if_missing, read_json, write_json
from .layers import open_all_layers, open_specified_layers
from .logger import Logger
from .metric_meter import MetricMeter
from .model_complexity import compute_model_complexity
from .rank_logger import RankLogger
from .ranked_results import visualize_ranked_results
from .seeding import set_random_seed
from .torchtools import count_num_param

# name -> module that defines it, imported on first use (see the module docstring)
_FROM_ABOVE = {
    'FeatureExtractor': 'torchreid.models.api_1x',
    'load_pretrained_weights': 'torchreid.models.api_1x',
    'resume_from_checkpoint': 'torchreid.models.api_1x',
    're_ranking': 'torchreid.metrics.rerank',
    'read_image': 'torchreid.data.image_io',
}


def __getattr__(name):
    if name in _FROM_ABOVE:
        return getattr(importlib.import_module(_FROM_ABOVE[name]), name)
    raise AttributeError("module 'torchreid.utils' has no attribute '{}'".format(name))


__all__ = ['AverageMeter', 'Logger', 'MetricMeter', 'RankLogger', 'check_isfile', 'collect_env_info', 'compute_model_complexity',
           'count_num_param', 'download_url', 'listdir_nohidden', 'load_checkpoint', 'mkdir_if_missing',
           'open_all_layers', 'open_specified_layers', 'read_json', 'save_checkpoint', 'set_random_seed',
           'visualize_ranked_results', 'write_json'] + list(_FROM_ABOVE)
