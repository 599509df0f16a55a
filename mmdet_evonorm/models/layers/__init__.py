from .evonorm import EvoNormS0

__all__ = ["EvoNormS0"]
