"""Errors of the media layer."""

from tagscope.domain import TagscopeError


class MediaError(TagscopeError):
    """A media file cannot be read; the message is the reason (missing, not an image, ...)."""
