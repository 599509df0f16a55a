"""Data builders (not registered datasets): the embedded nuclei set and a synthetic COCO set."""
