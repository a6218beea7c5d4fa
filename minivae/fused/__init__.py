"""The fused engine: compiled kernels for the hot path."""
