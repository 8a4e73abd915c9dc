"""Training and evaluation: the one loop (:class:`Engine` and its softmax / triplet subclasses), evaluation,
distributed helpers (:mod:`.comm`), logging, and the command line of the four scripts (:mod:`.cli`, :mod:`.runner`).

    >>> engine = SoftmaxEngine(model, optimizer, scheduler, train_loader, evaluator, device, 'log/run',
    ...                        criterion=CrossEntropyLoss(num_classes))
    >>> engine.run(max_epoch=60, eval_step=10)
"""
from .engine import Engine, SoftmaxEngine, TripletEngine, make_autocast
from .evaluation import EvalResult, Evaluator, extract_features

__all__ = ['Engine', 'SoftmaxEngine', 'TripletEngine', 'make_autocast', 'Evaluator', 'EvalResult',
           'extract_features']
