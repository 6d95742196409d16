"""Reading media: image probing and decoding, thumbnails (video comes later)."""
