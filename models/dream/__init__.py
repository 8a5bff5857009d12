"""Activation maximisation on the tagger (DreamSound-style deep dream, hard-cut filters, targets) and fooling.

Everything runs on 16 kHz mono float32 torch tensors [T]; `domain.py` maps a file's rate and channels in
and out, `cli.py` is `latentbridge dream`.
"""
