"""Deep supervision: one criterion averaged over several outputs of the same model."""


def DeepSupervision(criterion, xs, y):
    """Mean of ``criterion(x, y)`` over the outputs ``xs`` (a tuple or list, e.g. HACNN's global and local logits)."""
    return sum(criterion(x, y) for x in xs) / len(xs)


def apply_criterion(criterion, outputs, targets):
    """``criterion(outputs, targets)``, or its :func:`DeepSupervision` mean when the model gave several outputs."""
    if isinstance(outputs, (tuple, list)):
        return DeepSupervision(criterion, outputs, targets)
    return criterion(outputs, targets)
