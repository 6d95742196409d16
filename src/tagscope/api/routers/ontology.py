"""``/api/datasets/{name}/ontology``: a dataset's classes and classification questions."""

from __future__ import annotations

from fastapi import APIRouter, Response, status
from pydantic import BaseModel, Field

from tagscope.api.dependencies import WorkspaceDep, needs
from tagscope.domain.ontology import MAX_NAME, MAX_OPTIONS, QuestionKind
from tagscope.domain.ontology import OntologyClass as DomainClass
from tagscope.domain.ontology import Question as DomainQuestion
from tagscope.service import ontology as uc
from tagscope.service.policy import Action

router = APIRouter(prefix="/api/datasets/{name}/ontology", tags=["ontology"])


class OntologyClass(BaseModel):
    id: int
    name: str
    color: str = Field(description="#rrggbb")
    hotkey: str | None
    n_labels: int | None = Field(description="labels referring to the class")

    @classmethod
    def from_domain(cls, c: DomainClass) -> OntologyClass:
        return cls(id=c.id, name=c.name, color=c.color, hotkey=c.hotkey, n_labels=c.n_labels)


class Question(BaseModel):
    id: int
    name: str
    kind: QuestionKind
    options: list[str]
    required: bool

    @classmethod
    def from_domain(cls, q: DomainQuestion) -> Question:
        return cls(id=q.id, name=q.name, kind=q.kind, options=list(q.options), required=q.required)


class Ontology(BaseModel):
    classes: list[OntologyClass]
    questions: list[Question]


class NewClass(BaseModel):
    name: str = Field(max_length=MAX_NAME)
    color: str | None = Field(None, max_length=16, description="#rrggbb; default: a palette's")
    hotkey: str | None = Field(None, max_length=8, description="one digit or letter")


class ClassChange(BaseModel):
    name: str | None = Field(None, max_length=MAX_NAME, description="rename (every label too)")
    color: str | None = Field(None, max_length=16)
    hotkey: str | None = Field(None, max_length=8, description='"" removes it')


class EditedClass(OntologyClass):
    change_set: int | None = Field(description="the change-set (undo it from the history)")


class NewQuestion(BaseModel):
    name: str = Field(max_length=MAX_NAME)
    kind: QuestionKind
    options: list[str] = Field(default_factory=list, max_length=MAX_OPTIONS)
    required: bool = False


@router.get("", openapi_extra=needs(Action.READ))
def get_ontology(name: str, ws: WorkspaceDep) -> Ontology:
    """The dataset's classes (by name, with their number of labels) and questions."""
    found = uc.ontology(ws, name)
    return Ontology(
        classes=[OntologyClass.from_domain(c) for c in found.classes],
        questions=[Question.from_domain(q) for q in found.questions],
    )


@router.post(
    "/classes", status_code=status.HTTP_201_CREATED, openapi_extra=needs(Action.ONTOLOGY_EDIT)
)
def add_class(name: str, body: NewClass, ws: WorkspaceDep) -> OntologyClass:
    """Add a class; 409: the name is taken, 422: a bad colour or a hotkey another class has."""
    made = uc.add_class(ws, name, body.name, color=body.color, hotkey=body.hotkey)
    return OntologyClass.from_domain(made)


@router.patch("/classes/{class_name}", openapi_extra=needs(Action.ONTOLOGY_EDIT))
def update_class(name: str, class_name: str, body: ClassChange, ws: WorkspaceDep) -> EditedClass:
    """Rename a class (and every label of it) or change its colour or hotkey: one change-set;
    409: the new name is another class's."""
    edit = uc.update_class(
        ws, name, class_name, new_name=body.name, color=body.color, hotkey=body.hotkey
    )
    found = OntologyClass.from_domain(edit.ontology_class)
    return EditedClass(**found.model_dump(), change_set=edit.change_set)


@router.delete(
    "/classes/{class_name}",
    status_code=status.HTTP_204_NO_CONTENT,
    openapi_extra=needs(Action.ONTOLOGY_EDIT),
)
def delete_class(name: str, class_name: str, ws: WorkspaceDep) -> Response:
    """Delete a class no label uses (422 while labels use it)."""
    uc.delete_class(ws, name, class_name)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/questions", status_code=status.HTTP_201_CREATED, openapi_extra=needs(Action.ONTOLOGY_EDIT)
)
def add_question(name: str, body: NewQuestion, ws: WorkspaceDep) -> Question:
    """Add a classification question (radio and checklist need options, text has none)."""
    made = uc.add_question(ws, name, body.name, body.kind, body.options, body.required)
    return Question.from_domain(made)


@router.delete(
    "/questions/{question}",
    status_code=status.HTTP_204_NO_CONTENT,
    openapi_extra=needs(Action.ONTOLOGY_EDIT),
)
def delete_question(name: str, question: str, ws: WorkspaceDep) -> Response:
    """Delete a question (answers given already stay on the labels)."""
    uc.delete_question(ws, name, question)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
