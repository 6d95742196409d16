"""Export formats (SPEC F-03): COCO, YOLO, CSV and JSON lists, Parquet label tables.

Each writer takes the items of a dataset one :class:`ExportRecord` at a time and writes what
its format can hold; labels it cannot hold (a classification in COCO, a mask in YOLO) are
counted in :attr:`ExportReport.skipped` with the reason, never dropped silently.
"""
