"""Labels: import formats (folder classes, CSV, JSON, COCO), geometry."""
