"""srarena plugin for MoESR (Emad et al., WACV 2022; official code memad73/MoESR).

Not to be confused with spandrel's unrelated "MoESR" architecture: here the upscaler is
registered as ``moesr-emad2022``.
"""
