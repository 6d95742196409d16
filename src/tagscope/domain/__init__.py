"""Plain types and validation rules shared by every layer."""

from tagscope.domain.datasets import (
    Dataset,
    Hit,
    ImportProblem,
    ImportReport,
    PairHit,
    validate_dataset_name,
)
from tagscope.domain.errors import (
    AlreadyExistsError,
    AuthenticationError,
    LockedOutError,
    ModelUnavailableError,
    NotFoundError,
    PermissionDeniedError,
    SqlError,
    SqlRefusedError,
    SqlTimeoutError,
    TagscopeError,
    ValidationError,
    WriteConflictError,
)
from tagscope.domain.items import (
    Item,
    Label,
    LabelKind,
    LabelSource,
    MediaInfo,
    Modality,
    NewItem,
)
from tagscope.domain.jobs import Job, JobStatus

__all__ = [
    "AlreadyExistsError",
    "AuthenticationError",
    "Dataset",
    "Hit",
    "ImportProblem",
    "ImportReport",
    "Item",
    "Job",
    "JobStatus",
    "Label",
    "LabelKind",
    "LabelSource",
    "LockedOutError",
    "MediaInfo",
    "Modality",
    "ModelUnavailableError",
    "NewItem",
    "NotFoundError",
    "PairHit",
    "PermissionDeniedError",
    "SqlError",
    "SqlRefusedError",
    "SqlTimeoutError",
    "TagscopeError",
    "ValidationError",
    "WriteConflictError",
    "validate_dataset_name",
]
