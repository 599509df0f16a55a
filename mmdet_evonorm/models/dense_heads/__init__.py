"""Dense heads: the RPN head that reads a slice of the neck outputs."""

from .routed_rpn_head import RoutedRPNHead

__all__ = ["RoutedRPNHead"]
