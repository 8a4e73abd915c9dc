"""Running averages for losses and timings."""


class AverageMeter(object):
    """Keeps the latest value, the sum, the count and the average of a stream of (value, weight) pairs."""

    def __init__(self):
        self.reset()

    def reset(self):
        self.val = 0.
        self.avg = 0.
        self.sum = 0.
        self.count = 0

    def update(self, val, n=1):
        self.val = val
        self.sum += val * n
        self.count += n
        self.avg = self.sum / self.count
