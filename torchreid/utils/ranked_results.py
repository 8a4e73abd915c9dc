"""torchreid 1.x's ``visualize_ranked_results(distmat, dataset, data_type, ...)`` over
:func:`torchreid.visualize.visualize_ranked_results` (folders per query, a ranked-list picture each, index.html)."""
import warnings


def visualize_ranked_results(distmat, dataset, data_type, width=128, height=256, save_dir='', topk=10):
    """Write the top-``topk`` gallery items of every query under ``save_dir``; ``dataset`` is (query, gallery)
    lists of ``(path, pid, camid, ...)``. The pictures use a fixed cell size here: a ``width`` / ``height`` other
    than 1.x's defaults gets a warning. Returns the path of index.html."""
    # imported when called: torchreid.visualize sits beside the engine, above this package
    from .. import visualize
    if (width, height) != (128, 256):
        warnings.warn('visualize_ranked_results: width={} height={} are not used; the ranked-list pictures have a '
                      'fixed cell size ({}x{})'.format(width, height, visualize.CELL_WIDTH, visualize.CELL_HEIGHT),
                      stacklevel=2)
    query, gallery = dataset
    query = [tuple(sample[:3]) for sample in query]
    gallery = [tuple(sample[:3]) for sample in gallery]
    return visualize.visualize_ranked_results(distmat, (query, gallery), save_dir, topk=topk, data_type=data_type)
