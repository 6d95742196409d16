"""Errors of the media layer."""

from tagscope.domain import TagscopeError


class MediaError(TagscopeError):
    """A media file cannot be read; the message is the reason (missing, not an image, ...)."""


class UnsafePath(MediaError):
    """A file an import must not open: named or linked out of its folder, or not a regular file
    (the message says which)."""
