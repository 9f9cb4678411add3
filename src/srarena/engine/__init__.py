"""Planning and running benchmark cells: chains, tiling, execution, resume."""
