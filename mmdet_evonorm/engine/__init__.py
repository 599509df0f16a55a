"""Hooks and runtime helpers (safe checkpoints, CPU-distributed launch)."""
