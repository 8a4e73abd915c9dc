"""The environment report to paste into a bug report (torchreid 1.x's ``collect_env_info``)."""


def collect_env_info():
    """PyTorch's environment report (``python -m torch.utils.collect_env``) plus the Pillow version, as a string."""
    import PIL
    from torch.utils.collect_env import get_pretty_env_info
    return '{}\n        Pillow ({})'.format(get_pretty_env_info(), PIL.__version__)
