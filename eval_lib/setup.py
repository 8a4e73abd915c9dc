"""Standalone in-place build of the compiled evaluator: ``cd eval_lib && make`` (or ``python setup.py build_ext -i``).

``pip install .`` at the repository root builds the same extension; this file is for working inside eval_lib/ as
the seed's README describes. It tries OpenMP first and builds a single-threaded module when OpenMP is missing.
"""
import sys

import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext


class BuildExtWithOpenMPFallback(build_ext):
    """Builds with OpenMP; on a compiler error, once more without it."""

    def build_extension(self, ext):
        try:
            super().build_extension(ext)
        except Exception as exc:  # noqa: BLE001 - any compiler failure
            print('eval_lib: OpenMP build failed ({}); building without OpenMP'.format(exc))
            ext.extra_compile_args = [a for a in ext.extra_compile_args if 'openmp' not in a]
            ext.extra_link_args = [a for a in ext.extra_link_args if 'openmp' not in a]
            super().build_extension(ext)


if sys.platform == 'win32':
    compile_args, link_args = ['/openmp', '/O2'], []
elif sys.platform == 'darwin':  # Apple clang has no -fopenmp
    compile_args, link_args = ['-O3'], []
else:
    compile_args, link_args = ['-fopenmp', '-O3', '-Wno-cpp', '-Wno-unused-function'], ['-fopenmp']

extension = Extension(
    'cython_eval',
    sources=['cython_eval.pyx'],
    include_dirs=[numpy.get_include()],
    extra_compile_args=compile_args,
    extra_link_args=link_args,
)

setup(
    name='eval_lib',
    ext_modules=cythonize([extension], compiler_directives={'language_level': 3}),
    cmdclass={'build_ext': BuildExtWithOpenMPFallback},
)
