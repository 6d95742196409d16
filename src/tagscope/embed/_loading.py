"""Loading weights from a local folder or the Hugging Face cache, and a download only where one
can happen: an offline machine gets one :class:`ModelUnavailableError` saying how to provide the
files, at once, instead of minutes of network retries."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlparse

from tagscope.domain import ModelUnavailableError, ValidationError

T = TypeVar("T")

_TRUE = {"1", "on", "yes", "true"}
_PROBE_TIMEOUT_S = 3.0


def offline() -> bool:
    """True when downloads are switched off (``HF_HUB_OFFLINE`` or ``TRANSFORMERS_OFFLINE``).

    Read from the environment at each call, so a test or a notebook can switch it.
    """
    return any(
        os.environ.get(var, "").strip().lower() in _TRUE
        for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    )


def _hub_reachable() -> bool:
    """One quick TCP connection to the hub's endpoint (a missing network fails in milliseconds;
    the hub client would retry for half a minute)."""
    endpoint = urlparse(os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
    host, port = endpoint.hostname or "huggingface.co", endpoint.port or 443
    try:
        with socket.create_connection((host, port), timeout=_PROBE_TIMEOUT_S):
            return True
    except OSError:
        return False


def _cache_dir() -> str:
    try:
        from huggingface_hub import constants

        return str(constants.HF_HUB_CACHE)
    except ImportError:  # pragma: no cover - huggingface_hub comes with transformers
        return "~/.cache/huggingface/hub"


def local_folder(model: str) -> Path | None:
    """``model`` as an absolute folder path when it names one, else ``None`` (a hub id).

    A name that looks like a path (absolute, ``./``, ``../``, ``~``) but does not exist is an
    error rather than a hub id, so a typo is reported as such.
    """
    path = Path(model).expanduser()
    if path.is_dir():
        return path.resolve()
    if path.exists():
        raise ValidationError(f"model {model!r} is a file; give the model's folder", field="model")
    if model.startswith(("/", "./", "../", "~")) or model in {".", ".."}:
        raise ModelUnavailableError(f"model folder {model!r} does not exist")
    return None


@contextmanager
def _quiet() -> Iterator[None]:
    """No "Loading weights" bars from transformers while loading (the CLI draws its own)."""
    from transformers.utils import logging

    was_enabled = logging.is_progress_bar_enabled()
    logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            logging.enable_progress_bar()


def load_pretrained(
    what: str,
    model: str,
    loader: Callable[[str, bool], T],
    *,
    how_to: str,
) -> T:
    """Load ``model`` (a folder or a hub id) with ``loader(source, local_files_only)``.

    A folder is loaded as it is. A hub id is looked up in the local cache first; only when it is
    missing there, downloads are allowed (no ``HF_HUB_OFFLINE``) and the hub answers, is it
    downloaded. Every failure becomes one :class:`ModelUnavailableError` naming the model and
    explaining how to provide it (``how_to``).
    """
    with _quiet():
        return _load(what, model, loader, how_to)


def _load(what: str, model: str, loader: Callable[[str, bool], T], how_to: str) -> T:
    folder = local_folder(model)
    if folder is not None:
        try:
            return loader(str(folder), True)
        except Exception as exc:
            raise ModelUnavailableError(
                f"could not load the {what} model from folder {folder}: {exc}. "
                f"The folder must hold a complete saved model. {how_to}"
            ) from exc
    try:
        return loader(model, True)
    except Exception as exc:
        cached_error: Exception = exc
    where = f"it is not in the local Hugging Face cache ({_cache_dir()})"
    if offline():
        raise ModelUnavailableError(
            f"the {what} model {model!r} is not available on this machine: {where}, and downloads "
            f"are off (HF_HUB_OFFLINE=1). {how_to}"
        ) from cached_error
    if not _hub_reachable():
        raise ModelUnavailableError(
            f"the {what} model {model!r} is not available on this machine: {where}, and the "
            f"model hub cannot be reached from here. {how_to}"
        ) from cached_error
    try:
        return loader(model, False)
    except Exception as exc:
        raise ModelUnavailableError(
            f"the {what} model {model!r} could not be downloaded: {exc}. {how_to}"
        ) from exc


def folder_hint(model: str, flag: str) -> str:
    """How to provide ``model`` as a local folder (the end of every loading error)."""
    name = model.rstrip("/").rsplit("/", 1)[-1] or "model"
    return (
        f"Provide the model as a local folder: on a machine with internet run "
        f"`hf download {model} --local-dir {name}` (or save it with `save_pretrained`), copy "
        f"the folder here and pass it, e.g. `{flag} /path/to/{name}`; or pre-populate the "
        f"Hugging Face cache (HF_HOME) with {model!r}."
    )


def resolve_device(device: str | None) -> str:
    """``None`` or ``"auto"``: CUDA when torch sees a GPU, else Apple's MPS, else the CPU.

    An explicit device that torch cannot use is a :class:`ValidationError`.
    """
    import torch

    if device is None or device == "auto":
        if torch.cuda.is_available():
            return "cuda"
        if torch.backends.mps.is_available():
            return "mps"
        return "cpu"
    kind = device.split(":", 1)[0]
    if kind == "cuda" and not torch.cuda.is_available():
        raise ValidationError(
            f"device {device!r} was asked for, but this torch build sees no CUDA GPU "
            f"(torch {torch.__version__}); use --device cpu",
            field="device",
        )
    if kind == "mps" and not torch.backends.mps.is_available():
        raise ValidationError(f"device {device!r} is not available here", field="device")
    if kind not in {"cpu", "cuda", "mps"}:
        raise ValidationError(
            f"unknown device {device!r}: use cpu, cuda, cuda:N, mps or auto", field="device"
        )
    return device
