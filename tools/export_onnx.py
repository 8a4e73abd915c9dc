"""Export a re-id model to ONNX: ``tools/export.py --format onnx`` under its older name (same options).

    python tools/export_onnx.py --weights log/osnet/best_model.pth.tar -o osnet_x1_0.onnx
    python tools/export_onnx.py -a resnet50 --last-stride 1 --weights seed_checkpoint.pth.tar -o resnet50.onnx
    python tools/export_onnx.py -a hacnn --height 160 --width 64 -o hacnn.onnx        # random weights

The file is validated with onnx.checker and checked with ONNX Runtime against PyTorch on batches of 1 and 5 random
images (the exit status is 1 above --tolerance; --no-check skips it). See tools/export.py for every option, and
for the .pt and TorchScript formats.
"""
import importlib.util
import os
import sys


def _load_export_tool():
    """tools/export.py as a module (loaded by path: tools/ is not a package)."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'export.py')
    spec = importlib.util.spec_from_file_location('torchreid_tools_export', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(argv=None):
    """``tools/export.py --format onnx`` with ``argv``; returns the exit status."""
    return _load_export_tool().main(argv, fixed_format='onnx')


if __name__ == '__main__':
    sys.exit(main())
