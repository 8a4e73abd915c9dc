"""Top-k classification accuracy of logits (torchreid 1.x's ``accuracy``), e.g. to watch training."""
import torch


@torch.no_grad()
def accuracy(output, target, topk=(1,)):
    """Percent of rows of ``output`` (B, num_classes) logits whose ``target`` (B,) class is among the k highest,
    for each k in ``topk`` -> list of 0-d float tensors. A tuple/list ``output`` (deep supervision) uses its
    first element, as 1.x. Unlike 1.x, k > 1 works on current torch."""
    if isinstance(output, (tuple, list)):
        output = output[0]
    if output.dim() != 2 or target.dim() != 1 or output.size(0) != target.size(0):
        raise ValueError('accuracy needs (B, num_classes) logits and (B,) targets, got {} and {}'.format(
            tuple(output.shape), tuple(target.shape)))
    max_k = max(topk)
    if max_k > output.size(1):
        raise ValueError('top-{} accuracy needs at least {} classes, the output has {}'.format(
            max_k, max_k, output.size(1)))
    top_classes = output.topk(max_k, dim=1).indices  # (B, max_k), highest score first
    hits = top_classes == target.view(-1, 1)
    return [hits[:, :k].any(dim=1).float().mean() * 100. for k in topk]
