"""Installs torchreid and builds the compiled rank/mAP evaluator in ``eval_lib``.

``pip install .`` (or ``pip install -e .``) is the only step a user needs: the Cython extension is built as part of
the install. If no C compiler (or no OpenMP) is available the install still succeeds, and torchreid falls back to
its pure-Python evaluator with a warning.
"""
import os
import sys

from setuptools import Extension, find_packages, setup
from setuptools.command.build_ext import build_ext

HERE = os.path.dirname(os.path.abspath(__file__))


def read_requirements():
    with open(os.path.join(HERE, 'requirements.txt')) as f:
        return [line.strip() for line in f if line.strip() and not line.startswith('#')]


def read_version():
    namespace = {}
    with open(os.path.join(HERE, 'torchreid', 'version.py')) as f:
        exec(f.read(), namespace)
    return namespace['__version__']


def openmp_flags():
    """OpenMP flags for the platform's compiler (none where it is unsupported, e.g. Apple clang)."""
    if sys.platform.startswith('linux'):
        return ['-fopenmp'], ['-fopenmp']
    if sys.platform == 'win32':
        return ['/openmp'], []
    return [], []


class OptionalBuildExt(build_ext):
    """Builds the extension, retrying without OpenMP, and never fails the whole install."""

    def build_extension(self, ext):
        try:
            super().build_extension(ext)
            return
        except Exception as exc:  # noqa: BLE001 - any compiler failure
            first_error = exc
        ext.extra_compile_args = [a for a in ext.extra_compile_args if 'openmp' not in a]
        ext.extra_link_args = [a for a in ext.extra_link_args if 'openmp' not in a]
        try:
            super().build_extension(ext)
            print('torchreid: built {} without OpenMP ({})'.format(ext.name, first_error))
        except Exception as exc:  # noqa: BLE001
            print('torchreid: WARNING: could not build {} ({}); the Python evaluator will be used'.format(
                ext.name, exc))


def extensions():
    import numpy
    compile_args, link_args = openmp_flags()
    if sys.platform != 'win32':
        compile_args = compile_args + ['-O3', '-Wno-cpp', '-Wno-unused-function']
    ext = Extension(
        'eval_lib.cython_eval',
        sources=['eval_lib/cython_eval.pyx'],
        include_dirs=[numpy.get_include()],
        extra_compile_args=compile_args,
        extra_link_args=link_args,
    )
    from Cython.Build import cythonize
    return cythonize([ext], compiler_directives={'language_level': 3}, quiet=True)


setup(
    name='torchreid',
    version=read_version(),
    description='Deep person re-identification in PyTorch: datasets, models, training scripts and fast evaluation',
    long_description=open(os.path.join(HERE, 'README.md')).read(),
    long_description_content_type='text/markdown',
    license='MIT',
    python_requires='>=3.10',
    packages=find_packages(include=['torchreid', 'torchreid.*', 'eval_lib']),
    package_data={'eval_lib': ['*.pyx', 'Makefile']},
    install_requires=read_requirements(),
    extras_require={
        'test': ['pytest>=7', 'onnx>=1.14', 'onnxruntime>=1.16'],
        'onnx': ['onnx>=1.14', 'onnxruntime>=1.16'],
        # torchreid 1.4's model definitions (as pyppbox_torchreid), for tests/test_models_1x.py's parity checks
        'reference': ['pyppbox-torchreid==1.4.1.0', 'opencv-python-headless'],
        # BoxMOT 25 (its boxmot.reid backends), for tests/test_export_tracker.py's checks of our deployment files
        'tracker': ['boxmot>=25'],
    },
    ext_modules=extensions(),
    cmdclass={'build_ext': OptionalBuildExt},
    zip_safe=False,
)
