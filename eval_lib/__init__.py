"""Compiled (Cython) rank/mAP evaluation; see cython_eval.pyx. Built by ``pip install .`` or ``make`` here."""
