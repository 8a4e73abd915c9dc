"""Rank-1 of every evaluation, per test dataset, and the summary at the end (torchreid 1.x's ``RankLogger``)."""


class RankLogger(object):
    """``write(name, epoch, rank1)`` after each evaluation; ``show_summary()`` prints, per target, the rank-1 of
    every evaluated epoch (targets that are also sources are marked ``(source)``)."""

    def __init__(self, sources, targets):
        self.sources = [sources] if isinstance(sources, str) else list(sources)
        self.targets = [targets] if isinstance(targets, str) else list(targets)
        self.logger = {name: {'epoch': [], 'rank1': []} for name in self.targets}

    def write(self, name, epoch, rank1):
        """Record ``rank1`` (a fraction, e.g. 0.9) of target ``name`` after ``epoch``."""
        if name not in self.logger:
            raise KeyError("'{}' is not a target of this RankLogger ({})".format(name, ', '.join(self.targets)))
        self.logger[name]['epoch'].append(epoch)
        self.logger[name]['rank1'].append(rank1)

    def show_summary(self):
        print('=> Show performance summary')
        for name in self.targets:
            print('{} ({})'.format(name, 'source' if name in self.sources else 'target'))
            for epoch, rank1 in zip(self.logger[name]['epoch'], self.logger[name]['rank1']):
                print('- epoch {}\t rank1 {:.1%}'.format(epoch, rank1))
