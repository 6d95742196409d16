"""One router per area; ``tagscope.api.app`` includes them all under ``/api``."""
