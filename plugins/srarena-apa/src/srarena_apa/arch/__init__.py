"""StyleGAN2 networks and the ADA augmentation pipeline (torch)."""
