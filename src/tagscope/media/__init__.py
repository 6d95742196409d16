"""Reading media: image probing and decoding, thumbnails, videos (shots, keyframes) and
transcripts."""
