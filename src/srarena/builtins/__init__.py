"""The core's own plugins: they register through the same hooks as installed ones."""
