"""Export a re-id model's retrieval feature to ONNX with a dynamic batch size, and verify the file.

    python tools/export_onnx.py -a osnet_x1_0 --weights log/osnet/best_model.pth.tar -o osnet_x1_0.onnx --check
    python tools/export_onnx.py -a hacnn --height 160 --width 64 -o hacnn.onnx        # random weights

The graph takes ``images`` (B, 3, height, width), normalised like the test transform, and returns ``features``
(B, feat_dim): what evaluation and retrieval use (the model in eval mode). The number of identities of the classifier
is read from the checkpoint unless --num-classes is given; the classifier is not part of the exported graph.
The file is validated with onnx.checker; --check also runs it with ONNX Runtime on batches of 1 and 5 random
images, prints the largest difference from PyTorch, and exits with status 1 when it exceeds --tolerance (relative to
the largest feature magnitude). Needs the ``onnx`` extra (pip install torchreid[onnx]).
"""
import argparse
import os
import sys
import warnings

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from torchreid import models  # noqa: E402
from torchreid.models.export import (DEFAULT_OPSET, check_onnx_file, export_onnx, infer_num_classes,  # noqa: E402
                                     onnxruntime_parity)
from torchreid.utils.checkpoint import load_checkpoint, load_model_state  # noqa: E402


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('-a', '--arch', required=True, choices=models.get_names(), help='model key')
    parser.add_argument('--weights', default=None, metavar='PATH',
                        help='checkpoint to export (a torchreid checkpoint or a bare state_dict); without it the '
                             'model keeps its random initialisation')
    parser.add_argument('--num-classes', type=int, default=None,
                        help='identities of the checkpoint\'s classifier (default: read from --weights)')
    parser.add_argument('--height', type=int, default=256, help='input image height (HACNN: 160)')
    parser.add_argument('--width', type=int, default=128, help='input image width (HACNN: 64)')
    parser.add_argument('-o', '--output', default=None, metavar='PATH', help='ONNX file (default: <arch>.onnx)')
    parser.add_argument('--opset', type=int, default=DEFAULT_OPSET, help='ONNX opset version (>= 16)')
    parser.add_argument('--check', action='store_true',
                        help='compare ONNX Runtime with PyTorch on batches of 1 and 5 random images')
    parser.add_argument('--tolerance', type=float, default=5e-3,
                        help='--check fails above this difference relative to the largest feature magnitude '
                             '(float32 rounding through deep random-weight networks reached 9e-4, InceptionV4)')
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    checkpoint = load_checkpoint(args.weights) if args.weights else None
    if args.num_classes is not None:
        num_classes = args.num_classes
    elif checkpoint is not None:
        num_classes = infer_num_classes(args.arch, checkpoint)
    else:
        num_classes = 1  # random weights: the classifier is not exported, its size does not matter
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')  # "no ImageNet weights" notices: weights come from --weights or nowhere
        model = models.init_model(args.arch, num_classes=num_classes, pretrained=False)
    if checkpoint is not None:
        load_model_state(model, checkpoint)
        print("Loaded '{}' ({} identities)".format(args.weights, num_classes))
    else:
        print('No --weights: exporting the randomly initialised {}'.format(args.arch))
    output = args.output or '{}.onnx'.format(args.arch)
    export_onnx(model, output, args.height, args.width, opset=args.opset)
    opset = check_onnx_file(output)
    print('Exported {} ({}x{}, feature dim {}, opset {}, dynamic batch) to {}'.format(
        args.arch, args.height, args.width, model.feat_dim, opset, output))
    if args.check:
        failed = False
        for result in onnxruntime_parity(model, output, args.height, args.width, batch_sizes=(1, 5)):
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
