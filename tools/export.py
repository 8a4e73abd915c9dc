"""Export a re-id model for deployment (a tracker such as BoxMOT): a .pt weights file, ONNX or TorchScript.

    python tools/export.py --weights log/osnet/best_model.pth.tar --format pt -o osnet_x1_0_market.pt
    python tools/export.py --weights log/resnet50/best_model.pth.tar --format onnx -o resnet50.onnx
    python tools/export.py --weights log/resnet50/best_model.pth.tar --format torchscript -o resnet50.torchscript
    python tools/export.py -a resnet50 --last-stride 1 --weights seed_checkpoint.pth.tar --format onnx -o r50.onnx

Formats (each written file is checked against PyTorch on batches of 1 and 5 random images; the largest difference
and the lowest cosine similarity are printed, and the exit status is 1 when the difference relative to the largest
feature magnitude exceeds --tolerance; --no-check skips this):
  pt           the weights only (no optimizer state), in torchreid 1.x's layer names, with the metadata trackers
               read: model_name, num_classes, img_size, feat_dim, mean, std, preprocess, and our model record
               (:mod:`torchreid.models.deployment`). BoxMOT loads it under any name ending in .pt. Only models
               BoxMOT can rebuild are written: heads it lacks (BNNeck, GeM, ResNet-50 with last stride 1, keys it
               has no architecture for) are an error pointing to ONNX. Checked by reloading the file into a model
               rebuilt from it.
  onnx         the eval-mode graph, input ``images`` (B, 3, height, width) normalised, output ``features``
               (B, feat_dim), dynamic batch; validated with onnx.checker, checked with ONNX Runtime (the ``onnx``
               extra). BoxMOT runs it for any model (file name ending in .onnx).
  torchscript  torch.jit.trace of the eval-mode model, same input and output; checked after torch.jit.load.
               BoxMOT expects the suffix .torchscript.
For onnx and torchscript, <output>.metadata.json holds the metadata BoxMOT reads for them (model_name, img_size,
num_classes, preprocess); keep it next to the file (without it BoxMOT feeds TorchScript models 256x128 crops).

A checkpoint written by the training scripts records its model: -a, the architecture options and --height/--width
then default to the recorded ones, and an explicit one that contradicts the record is an error. For a checkpoint
without a record (the seed's, torchreid 1.x's) pass -a and the options it was trained with; the number of identities
of its classifier is read from it unless --num-classes is given. torchreid 1.x's layer names (ResNet's conv1, bn1,
layer1..4; MobileNetV2's conv2..conv8) are mapped on load. Layers of --weights other than the classifier that do
not fit the model are an error unless --allow-partial-load.
"""
import argparse
import importlib.util
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from torchreid import models  # noqa: E402
from torchreid.models.deployment import (boxmot_model_name, boxmot_warnings, save_boxmot_sidecar,  # noqa: E402
                                         save_deployment_file)
from torchreid.models.export import (DEFAULT_OPSET, check_onnx_file, compare_features, export_onnx,  # noqa: E402
                                     export_torchscript, onnxruntime_parity, torchscript_parity)
from torchreid.models.loading import load_weights  # noqa: E402
from torchreid.models.model_record import build_model_from_record, build_model_for_checkpoint  # noqa: E402
from torchreid.models.model_record import model_record_of  # noqa: E402
from torchreid.utils.checkpoint import CheckpointError, load_checkpoint  # noqa: E402

FORMATS = ('pt', 'onnx', 'torchscript')
# the suffix by which BoxMOT recognises each format
SUFFIXES = {'pt': '.pt', 'onnx': '.onnx', 'torchscript': '.torchscript'}
# architecture options: without a model record in the checkpoint they say how to build the model; with one they
# must agree with it
MODEL_OPTIONS = ('last_stride', 'pooling', 'neck', 'neck_feat')


def build_parser(fixed_format=None):
    """The argument parser; ``fixed_format`` (tools/export_onnx.py's 'onnx') drops --format."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    if fixed_format is None:
        parser.add_argument('--format', required=True, choices=FORMATS,
                            help='pt: weights + tracker metadata (1.x naming); onnx; torchscript')
    parser.add_argument('-a', '--arch', default=None, choices=models.get_names(),
                        help='model key (default: the one the checkpoint records; needed for checkpoints without '
                             'a record and for random weights)')
    parser.add_argument('--weights', default=None, metavar='PATH',
                        help='checkpoint to export (ours, the seed\'s, torchreid 1.x\'s or a bare state_dict); '
                             'without it (onnx, torchscript) the model keeps its random initialisation')
    parser.add_argument('--num-classes', type=int, default=None,
                        help='identities of the checkpoint\'s classifier (default: recorded in or read from '
                             '--weights)')
    parser.add_argument('--height', type=int, default=None,
                        help='input image height (default: the checkpoint\'s training size, else 256; HACNN: 160)')
    parser.add_argument('--width', type=int, default=None,
                        help='input image width (default: the checkpoint\'s training size, else 128; HACNN: 64)')
    parser.add_argument('--last-stride', type=int, default=None, choices=[1, 2],
                        help='architecture option (ResNet family), for checkpoints that do not record it')
    parser.add_argument('--pooling', default=None, choices=['avg', 'gem'], help='architecture option, as --last-stride')
    parser.add_argument('--neck', default=None, choices=['none', 'bnneck'],
                        help='architecture option, as --last-stride')
    parser.add_argument('--neck-feat', default=None, choices=['before', 'after'],
                        help='architecture option, as --last-stride')
    parser.add_argument('--allow-partial-load', action='store_true',
                        help='export even when layers of --weights other than the classifier do not fit the model '
                             '(they keep their random initialisation)')
    parser.add_argument('-o', '--output', default=None, metavar='PATH',
                        help='output file (default: <arch>.pt / .onnx / .torchscript)')
    parser.add_argument('--opset', type=int, default=None,
                        help='ONNX opset version (>= 16; default {}); onnx only'.format(DEFAULT_OPSET))
    parser.add_argument('--check', action=argparse.BooleanOptionalAction, default=True,
                        help='compare the written file with PyTorch on batches of 1 and 5 random images (default; '
                             '--no-check skips it, e.g. without onnxruntime)')
    parser.add_argument('--tolerance', type=float, default=5e-3,
                        help='the check fails above this difference relative to the largest feature magnitude '
                             '(float32 rounding through deep random-weight networks reached 9e-4, InceptionV4)')
    return parser


def main(argv=None, fixed_format=None):
    """Returns the exit status: 0, or 1 after a one-line 'Error: ...' (bad checkpoint or options, a model the
    format cannot hold) or a failed check."""
    args = build_parser(fixed_format).parse_args(argv)
    if fixed_format is not None:
        args.format = fixed_format
    try:
        return export(args)
    except (CheckpointError, FileNotFoundError, ValueError) as error:
        print('Error: {}'.format(error), file=sys.stderr)
        return 1


def check_arguments(args):
    if args.opset is not None and args.format != 'onnx':
        raise ValueError('--opset applies to --format onnx only')
    if args.format == 'onnx':
        for package, needed_for in (('onnx', 'ONNX export'), ('onnxruntime', 'the check of the ONNX file')):
            if needed_for.startswith('the check') and not args.check:
                continue
            if importlib.util.find_spec(package) is None:
                raise ValueError('{} needs the {} package: pip install torchreid[onnx]{}'.format(
                    needed_for, package, ' (or skip the check with --no-check)' if package == 'onnxruntime' else ''))
    if args.format == 'pt' and not args.weights:
        raise ValueError('--format pt writes trained weights: pass --weights <checkpoint> (onnx and torchscript '
                         'also export random weights)')


def export(args):
    check_arguments(args)
    checkpoint = load_checkpoint(args.weights) if args.weights else None
    options = {name: getattr(args, name) for name in MODEL_OPTIONS if getattr(args, name) is not None}
    model, record, recorded = build_model_for_checkpoint(checkpoint, args.arch, options, (args.height, args.width),
                                                         args.num_classes, source="'{}'".format(args.weights))
    arch = record['name']
    height, width = record['input_size']
    if args.format == 'pt':
        boxmot_model_name(record)  # a model BoxMOT cannot rebuild: the error, before any work
    if checkpoint is not None:
        load_weights(model, checkpoint, allow_partial=args.allow_partial_load, source=args.weights)
        print("Loaded '{}' ({} identities; {})".format(
            args.weights, record['num_classes'], 'model recorded in the checkpoint: {} {}'.format(
                arch, record['options']) if recorded else 'no model record: built from -a and the options given'))
    else:
        print('No --weights: exporting the randomly initialised {}'.format(arch))
    model.eval()
    output = args.output or arch + SUFFIXES[args.format]
    if not output.lower().endswith(SUFFIXES[args.format]):
        print("Warning: BoxMOT recognises a {} file by the suffix '{}'; '{}' does not end with it".format(
            args.format, SUFFIXES[args.format], output))
    for note in boxmot_warnings(record):
        print('Warning: ' + note)
    run_exported = write(args, model, record, output)
    print('Input: RGB images, {}x{}, normalised as (x / 255 - mean) / std with mean {} and std {}'.format(
        height, width, record['norm_mean'], record['norm_std']))
    if not args.check:
        print('Not checked against PyTorch (--no-check)')
        return 0
    failed = False
    for result in run_exported(model, output, height, width):
        relative = result.max_abs_difference / max(result.max_abs_feature, 1e-12)
        failed |= relative > args.tolerance
        print('batch {}: max abs difference {:.3g} (largest |feature| {:.3g}, relative {:.3g}), min cosine {:.6f}'
              '{}'.format(result.batch_size, result.max_abs_difference, result.max_abs_feature, relative,
                          result.min_cosine,
                          '  > tolerance {:g}'.format(args.tolerance) if relative > args.tolerance else ''))
    if failed:
        print('The {} file disagrees with PyTorch beyond --tolerance'.format(args.format))
        return 1
    return 0


def write(args, model, record, output):
    """Write ``output`` in ``args.format``; returns the function that checks it (see compare_features)."""
    height, width = record['input_size']
    if args.format == 'onnx':
        export_onnx(model, output, height, width, opset=args.opset or DEFAULT_OPSET)
        opset = check_onnx_file(output)
        print('Exported {} ({}x{}, feature dim {}, opset {}, dynamic batch) to {}'.format(
            record['name'], height, width, model.feat_dim, opset, output))
        print('BoxMOT metadata (model_name, img_size, ...): {}'.format(save_boxmot_sidecar(record, output)))
        return onnxruntime_parity
    if args.format == 'torchscript':
        export_torchscript(model, output, height, width)
        print('Exported {} ({}x{}, feature dim {}, TorchScript trace, dynamic batch) to {}'.format(
            record['name'], height, width, model.feat_dim, output))
        print('BoxMOT metadata (model_name, img_size, ...): {}'.format(save_boxmot_sidecar(record, output)))
        return torchscript_parity
    state = save_deployment_file(model, record, output)
    print('Exported {} weights ({} tensors, torchreid 1.x naming, no optimizer state) to {}'.format(
        record['name'], len(state['state_dict']), output))
    print('Metadata: model_name={!r}, num_classes={}, img_size={}, feat_dim={}, mean={}, std={}, '
          'preprocess={!r}'.format(state['model_name'], state['num_classes'], state['img_size'], state['feat_dim'],
                                   state['mean'], state['std'], state['preprocess']))
    return reload_parity


def reload_parity(model, fpath, height, width):
    """Rebuild the model from the deployment file alone (its record), load its 1.x-named weights strictly and
    compare features with ``model``."""
    deployed = load_checkpoint(fpath)
    reloaded = build_model_from_record(model_record_of(deployed, "'{}'".format(fpath)))
    load_weights(reloaded, deployed, strict=True)
    reloaded.eval()

    def run(images):
        return reloaded(images)

    return compare_features(model, run, height, width, what='the reloaded .pt')


if __name__ == '__main__':
    sys.exit(main())
