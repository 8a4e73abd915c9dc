"""Export a re-id model's retrieval feature to ONNX or TorchScript, and check the exported file against PyTorch.

    >>> from torchreid.models import init_model
    >>> from torchreid.models.export import export_onnx, onnxruntime_parity
    >>> model = init_model('osnet_x0_25', num_classes=751, pretrained=False)
    >>> export_onnx(model, 'osnet.onnx', height=256, width=128, checkpoint='log/osnet/best_model.pth.tar')
    >>> onnxruntime_parity(model, 'osnet.onnx', height=256, width=128)
    [Parity(batch_size=1, max_abs_difference=3.7e-08, max_abs_feature=0.13, min_cosine=1.0), Parity(batch_size=5, ...)]
    >>> export_torchscript(model, 'osnet.torchscript', 256, 128)
    >>> torchscript_parity(model, 'osnet.torchscript', 256, 128)

TorchScript: ``torch.jit.trace`` of the eval-mode model on a batch of 2 (the same input and output as the ONNX
graph); ``torch.jit.load`` runs it without this package. :func:`compare_features` is the one comparison all formats
(ONNX, TorchScript, the .pt deployment file of :mod:`torchreid.models.deployment`) are checked with.

The graph is the model in eval mode: input ``images`` (B, 3, height, width) float32, already normalised as the test
transform does; output ``features`` (B, feat_dim). The batch dimension is dynamic by default, the image size is
fixed (several models only work at one size, e.g. HACNN 160x64, MuDeep 256x128).

Exporter: the TorchScript-based one (``torch.onnx.export(..., dynamo=False)``), which needs only torch. It has no
conversion for two operators our models use below opset 20, so this module registers them (for the TorchScript
exporter only, on the first export): ``aten::channel_shuffle`` (ShuffleNet) as transposes and reshapes, and
``aten::affine_grid_generator`` (HACNN's spatial transformer) as the base grid computed in the graph (Range) times
theta (MatMul); from opset 20 on, torch's own AffineGrid conversion is used. With these, all 23 registered models
export at the default opset 17 (a widely supported one); the minimum is 16, the first with GridSample. The
dynamo-based exporter needs the extra ``onnxscript`` package and was much slower to export here.

``onnx`` and ``onnxruntime`` (the ``onnx`` extra: ``pip install torchreid[onnx]``) are imported only by the
functions that check the file, never at import time.
"""
import os
import warnings
from collections import namedtuple

import torch
from torch.onnx import symbolic_helper

from .inference import model_device
from .loading import load_weights
from .model_record import infer_num_classes  # noqa: F401 (part of this module's API)

DEFAULT_OPSET = 17
MIN_OPSET = 16  # GridSample (HACNN) and everything else the models use
INPUT_NAME = 'images'
OUTPUT_NAME = 'features'


_SYMBOLICS_OPSET = MIN_OPSET
_symbolics_registered = False


def _int64s(g, values):
    return g.op('Constant', value_t=torch.tensor(values, dtype=torch.int64))


def _float(g, value):
    return g.op('Constant', value_t=torch.tensor(value, dtype=torch.float32))


@symbolic_helper.parse_args('v', 'i')
def _channel_shuffle_symbolic(g, x, groups):
    """ONNX for ``channel_shuffle(x, groups)`` on (B, C, H, W): output channel ``j * groups + i`` is input channel
    ``i * C / groups + j``. Reshapes only split or merge the last axis (0 copies a dimension), so B, H, W may be
    dynamic."""
    channels_last = g.op('Transpose', x, perm_i=[0, 2, 3, 1])                               # (B, H, W, C)
    grouped = g.op('Reshape', channels_last, _int64s(g, [0, 0, 0, groups, -1]))              # (B, H, W, g, C/g)
    swapped = g.op('Transpose', grouped, perm_i=[0, 1, 2, 4, 3])                             # (B, H, W, C/g, g)
    merged = g.op('Reshape', swapped, _int64s(g, [0, 0, 0, -1]))                             # (B, H, W, C)
    return g.op('Transpose', merged, perm_i=[0, 3, 1, 2])


def _normalised_coordinates(g, length, align_corners):
    """The ``length`` sample positions of one axis in [-1, 1], as ``torch.nn.functional.affine_grid`` places them:
    ``(2 i - (length - 1)) / max(length - 1, 1)`` with ``align_corners`` (0 for a unit-size axis), else
    ``(2 i + 1) / length - 1``. (length,) float32."""
    length = g.op('Cast', length, to_i=1)  # onnx.TensorProto.FLOAT
    index = g.op('Range', _float(g, 0.0), length, _float(g, 1.0))
    if align_corners:
        last = g.op('Sub', length, _float(g, 1.0))
        offsets = g.op('Sub', g.op('Mul', index, _float(g, 2.0)), last)
        return g.op('Div', offsets, g.op('Max', last, _float(g, 1.0)))
    centres = g.op('Add', g.op('Mul', index, _float(g, 2.0)), _float(g, 1.0))
    return g.op('Sub', g.op('Div', centres, length), _float(g, 1.0))


@symbolic_helper.parse_args('v', 'v', 'b')
def _affine_grid_symbolic(g, theta, size, align_corners):
    """ONNX (opset < 20) for ``affine_grid(theta (N, 2, 3), [N, C, H, W])`` -> (N, H, W, 2): the base grid of
    (x, y, 1) rows times ``theta`` transposed. H and W may be graph values, so the grid is computed in the graph."""
    sizes = symbolic_helper._unpack_list(size)
    if len(sizes) != 4:
        raise symbolic_helper.errors.SymbolicValueError(
            'affine_grid: only 2-D grids (a 4-entry size) are exported, got {} entries'.format(len(sizes)), theta)
    height, width = [g.op('Reshape', value, _int64s(g, [1])) for value in sizes[2:]]       # 1-D int64 each
    xs = _normalised_coordinates(g, g.op('Squeeze', width), align_corners)                  # (W,)
    ys = _normalised_coordinates(g, g.op('Squeeze', height), align_corners)                 # (H,)
    plane = g.op('Concat', height, width, axis_i=0)
    grid_x = g.op('Expand', g.op('Unsqueeze', xs, _int64s(g, [0])), plane)                  # (H, W)
    grid_y = g.op('Expand', g.op('Unsqueeze', ys, _int64s(g, [1])), plane)                  # (H, W)
    ones = g.op('Expand', _float(g, 1.0), plane)
    base = g.op('Concat', *[g.op('Unsqueeze', part, _int64s(g, [2])) for part in (grid_x, grid_y, ones)],
                axis_i=2)                                                                    # (H, W, 3)
    base = g.op('CastLike', g.op('Reshape', base, _int64s(g, [1, -1, 3])), theta)           # (1, H*W, 3)
    grid = g.op('MatMul', base, g.op('Transpose', theta, perm_i=[0, 2, 1]))                 # (N, H*W, 2)
    shape = g.op('Concat', _int64s(g, [-1]), height, width, _int64s(g, [2]), axis_i=0)
    return g.op('Reshape', grid, shape)


def register_onnx_symbolics():
    """Teach the TorchScript exporter ``aten::channel_shuffle`` and (below opset 20) ``aten::affine_grid_generator``.
    Called by :func:`export_onnx`; registering twice is harmless."""
    global _symbolics_registered
    if not _symbolics_registered:
        torch.onnx.register_custom_op_symbolic('aten::channel_shuffle', _channel_shuffle_symbolic, _SYMBOLICS_OPSET)
        torch.onnx.register_custom_op_symbolic('aten::affine_grid_generator', _affine_grid_symbolic,
                                               _SYMBOLICS_OPSET)
        _symbolics_registered = True


def export_onnx(model, fpath, height, width, opset=DEFAULT_OPSET, dynamic_batch=True, checkpoint=None,
                allow_partial=False):
    """Write the eval-mode feature of ``model`` to the ONNX file ``fpath``; returns ``fpath``.

    Args:
        model (nn.Module): a re-id model (its train/eval mode is restored afterwards).
        fpath (str): output file; its folder is created.
        height, width (int): input image size the graph is traced at (and fixed to).
        opset (int): ONNX opset version, >= 16.
        dynamic_batch (bool): leave the batch dimension of ``images`` and ``features`` free; else it is 1.
        checkpoint (str or None): a checkpoint file loaded first with
            :func:`~torchreid.models.loading.load_weights` (1.x names mapped): a classifier of another size stays as
            it is (it is not exported), any other layer that does not fit is a CheckpointError...
        allow_partial (bool): ... unless this is True (those layers then keep their values; a warning lists them).
    """
    if opset < MIN_OPSET:
        raise ValueError('opset must be >= {} (GridSample, used by HACNN), got {}'.format(MIN_OPSET, opset))
    register_onnx_symbolics()
    if checkpoint is not None:
        load_weights(model, checkpoint, allow_partial=allow_partial)
    folder = os.path.dirname(os.path.abspath(fpath))
    os.makedirs(folder, exist_ok=True)
    device = model_device(model)
    # batch 2, so that the traced graph cannot specialise on a batch of one
    example = torch.randn(2 if dynamic_batch else 1, 3, height, width, device=device)
    dynamic_axes = {INPUT_NAME: {0: 'batch'}, OUTPUT_NAME: {0: 'batch'}} if dynamic_batch else None
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), warnings.catch_warnings():
            # the TorchScript exporter is deprecated in favour of dynamo (which needs onnxscript); it still works
            warnings.simplefilter('ignore', category=DeprecationWarning)
            warnings.simplefilter('ignore', category=torch.jit.TracerWarning)
            torch.onnx.export(model, (example,), fpath, input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
                              opset_version=opset, dynamic_axes=dynamic_axes, do_constant_folding=True,
                              dynamo=False)
    finally:
        model.train(was_training)
    return fpath


def check_onnx_file(fpath):
    """Validate ``fpath`` with ``onnx.checker`` (raises onnx.checker.ValidationError when invalid); returns the
    opset version of its default domain."""
    import onnx
    model_proto = onnx.load(fpath)
    onnx.checker.check_model(model_proto, full_check=True)
    return next(entry.version for entry in model_proto.opset_import if entry.domain in ('', 'ai.onnx'))


Parity = namedtuple('Parity', ['batch_size', 'max_abs_difference', 'max_abs_feature', 'min_cosine'])


def compare_features(model, run_exported, height, width, batch_sizes=(1, 5), seed=0, what='the exported model'):
    """Compare ``run_exported(images)`` with ``model``'s eval-mode features, per batch size.

    ``run_exported`` maps a CPU float32 batch (B, 3, height, width) to features (a tensor or numpy array). Random
    normal images (fixed ``seed``) of each batch size go through both. Returns a list of
    ``Parity(batch_size, max_abs_difference, max_abs_feature, min_cosine)``: the largest PyTorch feature magnitude
    puts the difference in scale; ``min_cosine`` is the lowest cosine similarity of a pair of features. RuntimeError
    (naming ``what``) if the output shapes differ.
    """
    generator = torch.Generator().manual_seed(seed)
    device = model_device(model)
    was_training = model.training
    model.eval()
    results = []
    try:
        for batch_size in batch_sizes:
            images = torch.randn(batch_size, 3, height, width, generator=generator)
            with torch.no_grad():
                expected = model(images.to(device)).float().cpu()
                actual = torch.as_tensor(run_exported(images)).float().cpu()
            if actual.shape != expected.shape:
                raise RuntimeError('{} returns shape {} for a batch of {}, PyTorch {}'.format(
                    what, tuple(actual.shape), batch_size, tuple(expected.shape)))
            difference = (actual - expected).abs().max().item()
            cosine = torch.nn.functional.cosine_similarity(actual, expected, dim=1).min().item()
            results.append(Parity(batch_size, difference, expected.abs().max().item(), cosine))
    finally:
        model.train(was_training)
    return results


def onnxruntime_parity(model, fpath, height, width, batch_sizes=(1, 5), seed=0):
    """:func:`compare_features` of ONNX Runtime running ``fpath`` (CPU) against ``model``."""
    import onnxruntime
    options = onnxruntime.SessionOptions()
    options.add_session_config_entry('session.intra_op.allow_spinning', '0')  # no busy-waiting threads
    session = onnxruntime.InferenceSession(fpath, options, providers=['CPUExecutionProvider'])

    def run(images):
        return session.run([OUTPUT_NAME], {INPUT_NAME: images.numpy()})[0]

    return compare_features(model, run, height, width, batch_sizes, seed, what='the ONNX model')


def export_torchscript(model, fpath, height, width):
    """Write ``torch.jit.trace`` of the eval-mode ``model`` (traced on a batch of 2 random images at height x
    width, on the model's device) to ``fpath``; returns ``fpath``. The model's train/eval mode is restored."""
    os.makedirs(os.path.dirname(os.path.abspath(fpath)), exist_ok=True)
    device = model_device(model)
    example = torch.randn(2, 3, height, width, device=device)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter('ignore', category=torch.jit.TracerWarning)
            warnings.simplefilter('ignore', category=FutureWarning)  # torch.jit is deprecated; still works
            traced = torch.jit.trace(model, example, check_trace=False)
            torch.jit.save(traced, fpath)
    finally:
        model.train(was_training)
    return fpath


def torchscript_parity(model, fpath, height, width, batch_sizes=(1, 5), seed=0):
    """:func:`compare_features` of ``torch.jit.load(fpath)`` (on the CPU) against ``model``."""
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', category=FutureWarning)  # torch.jit is deprecated; still works
        loaded = torch.jit.load(fpath, map_location='cpu').eval()

    def run(images):
        with torch.no_grad():
            return loaded(images)

    return compare_features(model, run, height, width, batch_sizes, seed, what='the TorchScript model')
