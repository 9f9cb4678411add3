"""srarena plugin: FastGAN (Liu et al., ICLR 2021), the few-shot generator of the study.

Registration lives in :mod:`srarena_fastgan.plugin` and imports no torch; the networks
(:mod:`.arch`), augmentation (:mod:`.diffaug`), LPIPS loss (:mod:`.perceptual`), training
(:mod:`.training`), checkpoints (:mod:`.checkpoint`) and the srarena component
(:mod:`.upscaler`) are imported only when FastGAN is used.
"""
