"""Export a re-id model's retrieval feature to ONNX with a dynamic batch size, and verify the file.

    python tools/export_onnx.py --weights log/osnet/best_model.pth.tar -o osnet_x1_0.onnx --check
    python tools/export_onnx.py -a resnet50 --last-stride 1 --weights seed_checkpoint.pth.tar -o resnet50.onnx
    python tools/export_onnx.py -a hacnn --height 160 --width 64 -o hacnn.onnx        # random weights

The graph takes ``images`` (B, 3, height, width), normalised like the test transform, and returns ``features``
(B, feat_dim): what evaluation and retrieval use (the model in eval mode). A checkpoint written by the training
scripts records its model: -a, the architecture options and --height/--width then default to the recorded ones, and
an explicit one that contradicts the record is an error. For a checkpoint without a record (the seed's, torchreid
1.x's) pass -a and the options it was trained with; the number of identities of its classifier is read from it
unless --num-classes is given (the classifier is not part of the exported graph). Layers of --weights other than the
classifier that do not fit the model are an error unless --allow-partial-load.
The file is validated with onnx.checker; --check also runs it with ONNX Runtime on batches of 1 and 5 random
images, prints the largest difference from PyTorch, and exits with status 1 when it exceeds --tolerance (relative to
the largest feature magnitude). Needs the ``onnx`` extra (pip install torchreid[onnx]).
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from torchreid import models  # noqa: E402
from torchreid.models.export import DEFAULT_OPSET, check_onnx_file, export_onnx, onnxruntime_parity  # noqa: E402
from torchreid.models.model_record import build_model_for_checkpoint  # noqa: E402
from torchreid.utils.checkpoint import CheckpointError, load_checkpoint, load_pretrained_weights  # noqa: E402

# architecture options: without a model record in the checkpoint they say how to build the model; with one they
# must agree with it
MODEL_OPTIONS = ('last_stride', 'pooling', 'neck', 'neck_feat')


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('-a', '--arch', default=None, choices=models.get_names(),
                        help='model key (default: the one the checkpoint records; needed for checkpoints without '
                             'a record and for random weights)')
    parser.add_argument('--weights', default=None, metavar='PATH',
                        help='checkpoint to export (a torchreid checkpoint or a bare state_dict); without it the '
                             'model keeps its random initialisation')
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
    parser.add_argument('-o', '--output', default=None, metavar='PATH', help='ONNX file (default: <arch>.onnx)')
    parser.add_argument('--opset', type=int, default=DEFAULT_OPSET, help='ONNX opset version (>= 16)')
    parser.add_argument('--check', action='store_true',
                        help='compare ONNX Runtime with PyTorch on batches of 1 and 5 random images')
    parser.add_argument('--tolerance', type=float, default=5e-3,
                        help='--check fails above this difference relative to the largest feature magnitude '
                             '(float32 rounding through deep random-weight networks reached 9e-4, InceptionV4)')
    return parser


def main(argv=None):
    """Returns the exit status: 0, or 1 after a one-line 'Error: ...' (bad checkpoint or options) or a failed
    --check."""
    args = build_parser().parse_args(argv)
    try:
        return export(args)
    except (CheckpointError, FileNotFoundError, ValueError) as error:
        print('Error: {}'.format(error), file=sys.stderr)
        return 1


def export(args):
    checkpoint = load_checkpoint(args.weights) if args.weights else None
    options = {name: getattr(args, name) for name in MODEL_OPTIONS if getattr(args, name) is not None}
    model, record, recorded = build_model_for_checkpoint(checkpoint, args.arch, options, (args.height, args.width),
                                                         args.num_classes, source="'{}'".format(args.weights))
    arch = record['name']
    height, width = record['input_size']
    if checkpoint is not None:
        load_pretrained_weights(model, checkpoint, allow_partial=args.allow_partial_load, source=args.weights)
        print("Loaded '{}' ({} identities; {})".format(
            args.weights, record['num_classes'], 'model recorded in the checkpoint: {} {}'.format(
                arch, record['options']) if recorded else 'no model record: built from -a and the options given'))
    else:
        print('No --weights: exporting the randomly initialised {}'.format(arch))
    output = args.output or '{}.onnx'.format(arch)
    export_onnx(model, output, height, width, opset=args.opset)
    opset = check_onnx_file(output)
    print('Exported {} ({}x{}, feature dim {}, opset {}, dynamic batch) to {}'.format(
        arch, height, width, model.feat_dim, opset, output))
    print('Input: RGB images, {}x{}, normalised as (x / 255 - mean) / std with mean {} and std {}'.format(
        height, width, record['norm_mean'], record['norm_std']))
    if args.check:
        failed = False
        for result in onnxruntime_parity(model, output, height, width, batch_sizes=(1, 5)):
            relative = result.max_abs_difference / max(result.max_abs_feature, 1e-12)
            failed |= relative > args.tolerance
            print('batch {}: max abs difference {:.3g} (largest |feature| {:.3g}, relative {:.3g}){}'.format(
                result.batch_size, result.max_abs_difference, result.max_abs_feature, relative,
                '  > tolerance {:g}'.format(args.tolerance) if relative > args.tolerance else ''))
        if failed:
            print('ONNX Runtime disagrees with PyTorch beyond --tolerance')
            return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
