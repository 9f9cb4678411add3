"""srarena plugin for BlindSR (Cornillère et al., SIGGRAPH Asia 2019), as in sunreef/BlindSR.

``plugin`` registers the upscaler (no torch); ``arch`` holds the networks, ``kernels`` the
Gaussian kernel model, ``patches`` the official patch geometry, ``inference`` the test-time
kernel search, ``upscaler`` the srarena adapter, ``train`` the two training phases and
``cli`` the ``srarena blindsr-train`` command.
"""
