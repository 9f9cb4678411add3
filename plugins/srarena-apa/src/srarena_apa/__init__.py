"""APA (Adaptive Pseudo Augmentation, "Deceive D") for srarena.

StyleGAN2-ADA plus APA, trained on a dataset and sampled by seed; official network
snapshots load safely. The registration (``plugin``) imports no torch.
"""
