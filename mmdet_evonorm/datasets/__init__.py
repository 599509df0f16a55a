"""Dataset builders: the embedded nuclei set and a synthetic COCO generator."""
