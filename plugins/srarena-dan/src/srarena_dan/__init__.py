"""DAN (Deep Alternating Network, Luo et al.) for srarena: DANv1 and DANv2, official checkpoints.

Registration lives in :mod:`srarena_dan.plugin` (no torch); the networks in
:mod:`srarena_dan.arch`, checkpoint loading in :mod:`srarena_dan.checkpoint` and the srarena
upscaler in :mod:`srarena_dan.upscaler`.
"""
