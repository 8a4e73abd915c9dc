"""Training and evaluation: the one loop (:class:`Engine` and its softmax / triplet subclasses), evaluation,
distributed helpers (:mod:`.comm`), logging, and the command line of the four scripts (:mod:`.cli`, :mod:`.runner`).

    >>> engine = SoftmaxEngine(model, optimizer, scheduler, train_loader, evaluator, device, 'log/run',
    ...                        criterion=CrossEntropyLoss(num_classes))
    >>> engine.run(max_epoch=60, eval_step=10)

torchreid 1.x's engines over a data manager (:mod:`.datamanager_engines`) work as there:

    >>> engine = ImageSoftmaxEngine(datamanager, model, optimizer, scheduler=scheduler)
    >>> engine.run(save_dir='log/resnet50', max_epoch=60, eval_freq=10, print_freq=10)
"""
from .datamanager_engines import ImageSoftmaxEngine, ImageTripletEngine, VideoSoftmaxEngine, VideoTripletEngine
from .engine import Engine, SoftmaxEngine, TripletEngine, make_autocast
from .evaluation import EvalResult, Evaluator, extract_features

__all__ = ['Engine', 'SoftmaxEngine', 'TripletEngine', 'make_autocast', 'Evaluator', 'EvalResult',
           'extract_features', 'ImageSoftmaxEngine', 'ImageTripletEngine', 'VideoSoftmaxEngine', 'VideoTripletEngine']
