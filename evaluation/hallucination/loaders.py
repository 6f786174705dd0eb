"""Readers for the public hallucination-benchmark formats, with errors that name file, line and field.

* COCO instances (``instances_val2014.json``): ``images``, ``annotations`` (``image_id``,
  ``category_id``) and ``categories`` -> the set of category names per image.
* COCO captions (``captions_val2014.json``): ``annotations`` (``image_id``, ``caption``).
* POPE question files (JSONL): ``{"question_id", "image", "text", "label"}`` with label yes/no, and
  answer files (JSONL): ``{"question_id", "answer"}`` (or LLaVA's ``"text"``).
* AMBER ``query_*.json`` (``[{"id", "image", "query"}]``) and ``annotations.json``
  (``[{"id", "type", "truth", "hallu"}]``), and responses ``[{"id", "response"}]`` (JSON or JSONL).
* CHAIR predictions (JSONL): ``{"image_id", "caption"}``.
"""

from __future__ import annotations

import os
from collections.abc import Hashable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from polyrlaif.core.io import InputError, iter_jsonl, read_json

__all__ = [
    "AmberAnnotation",
    "CocoInstances",
    "load_amber_annotations",
    "load_amber_queries",
    "load_amber_responses",
    "load_chair_predictions",
    "load_coco_captions",
    "load_coco_instances",
    "load_pope_answers",
    "load_pope_questions",
]

POPE_SPLITS = ("random", "popular", "adversarial")


@dataclass(frozen=True)
class CocoInstances:
    """Ground-truth objects of a COCO instances file.

    Attributes:
        objects: image id -> names of the categories annotated in it; every image of ``images`` has an
            entry, an image with no annotation an empty set.
        categories: the file's ``categories`` list, as read.
    """

    objects: dict[Hashable, set[str]]
    categories: list[dict]


@dataclass(frozen=True)
class AmberAnnotation:
    """One AMBER annotation row.

    Attributes:
        id: the query id.
        type: ``"generative"`` or a ``"discriminative-..."`` type.
        truth: objects in the image (generative), or ``"yes"``/``"no"`` (discriminative).
        hallu: objects that are not in the image (generative; empty for discriminative rows).
        image: image file name, when given.
    """

    id: Hashable
    type: str
    truth: tuple[str, ...] | str
    hallu: tuple[str, ...] = field(default_factory=tuple)
    image: str | None = None

    @property
    def generative(self) -> bool:
        """True for a generative (captioning) annotation."""
        return self.type == "generative"


def _load_json(path: str | os.PathLike) -> Any:
    return read_json(path)


_ID = (int, str)


def _field(row: Any, name: str, where: str, types: type | tuple[type, ...] = object) -> Any:
    if not isinstance(row, dict):
        raise InputError(f"{where}: expected a JSON object, got {type(row).__name__}")
    if name not in row:
        raise InputError(f"{where}: missing field {name!r}")
    value = row[name]
    # JSON true/false load as bool, a subclass of int: never accept them as ids.
    if not isinstance(value, types) or (isinstance(value, bool) and types is _ID):
        raise InputError(f"{where}: field {name!r} has the wrong type ({type(value).__name__})")
    return value


def _list_field(obj: Any, name: str, path: Path) -> list:
    return _field(obj, name, str(path), list)


def load_coco_instances(path: str | os.PathLike) -> CocoInstances:
    """Read a COCO instances JSON into per-image category-name sets.

    Raises:
        InputError: if the file is missing or malformed, a field is missing, or an annotation names an
            image or category that the file does not list (the message names file, list index and field).
    """
    path = Path(path)
    data = _load_json(path)
    categories = _list_field(data, "categories", path)
    names: dict[Hashable, str] = {}
    for i, cat in enumerate(categories):
        where = f"{path}: categories[{i}]"
        names[_field(cat, "id", where, _ID)] = _field(cat, "name", where, str)
    objects: dict[Hashable, set[str]] = {
        _field(img, "id", f"{path}: images[{i}]", _ID): set()
        for i, img in enumerate(_list_field(data, "images", path))
    }
    for i, ann in enumerate(_list_field(data, "annotations", path)):
        where = f"{path}: annotations[{i}]"
        image_id = _field(ann, "image_id", where, _ID)
        category_id = _field(ann, "category_id", where, _ID)
        if image_id not in objects:
            raise InputError(f"{where}: field 'image_id' = {image_id!r} is not in 'images'")
        if category_id not in names:
            raise InputError(f"{where}: field 'category_id' = {category_id!r} is not in 'categories'")
        objects[image_id].add(names[category_id])
    return CocoInstances(objects=objects, categories=list(categories))


def load_coco_captions(path: str | os.PathLike) -> dict[Hashable, list[str]]:
    """Read a COCO captions JSON: image id -> its reference captions, in file order.

    Raises:
        InputError: if the file is missing or malformed, or an annotation lacks ``image_id``/``caption``.
    """
    path = Path(path)
    captions: dict[Hashable, list[str]] = {}
    for i, ann in enumerate(_list_field(_load_json(path), "annotations", path)):
        where = f"{path}: annotations[{i}]"
        image_id = _field(ann, "image_id", where, _ID)
        captions.setdefault(image_id, []).append(_field(ann, "caption", where, str))
    return captions


def load_chair_predictions(path: str | os.PathLike) -> dict[Hashable, str]:
    """Read CHAIR predictions (JSONL ``{"image_id", "caption"}``): image id -> caption.

    Raises:
        InputError: on a malformed line, a missing or mistyped field, or an image id given twice
            (``file:line: ...``).
    """
    preds: dict[Hashable, str] = {}
    for lineno, row in iter_jsonl(path, required=("image_id", "caption")):
        where = f"{path}:{lineno}"
        image_id = _field(row, "image_id", where, _ID)
        if image_id in preds:
            raise InputError(f"{where}: field 'image_id' = {image_id!r} appears twice")
        preds[image_id] = _field(row, "caption", where, str)
    return preds


def _split_of(path: Path, split: str | None) -> str | None:
    if split is not None:
        return split
    found = [s for s in POPE_SPLITS if s in path.stem.lower()]
    return found[0] if len(found) == 1 else None


def load_pope_questions(path: str | os.PathLike, split: str | None = None) -> list[dict]:
    """Read a POPE question file (JSONL ``{"question_id", "image", "text", "label"}``).

    Args:
        path: the JSONL file, e.g. ``coco_pope_adversarial.json``.
        split: the split every row belongs to. By default a row's own ``"category"`` or ``"split"``
            field (LLaVA's merged files carry one), else the split named in the file name, else none.

    Returns:
        Rows with ``question_id``, ``image``, ``text``, ``label`` (lowercase ``"yes"``/``"no"``) and
        ``split`` (``None`` if unknown).

    Raises:
        InputError: on a malformed line, a missing field, a label other than yes/no, or a question id
            given twice (``file:line: ...``).
    """
    path = Path(path)
    default = _split_of(path, split)
    rows, seen = [], set()
    for lineno, row in iter_jsonl(path, required=("question_id", "image", "text", "label")):
        where = f"{path}:{lineno}"
        label = _field(row, "label", where, str).strip().lower()
        if label not in ("yes", "no"):
            raise InputError(f"{where}: field 'label' must be 'yes' or 'no', got {row['label']!r}")
        qid = _field(row, "question_id", where, _ID)
        if qid in seen:
            raise InputError(f"{where}: field 'question_id' = {qid!r} appears twice")
        seen.add(qid)
        row_split = split if split is not None else row.get("split", row.get("category", default))
        rows.append(
            {
                "question_id": qid,
                "image": _field(row, "image", where, str),
                "text": _field(row, "text", where, str),
                "label": label,
                "split": row_split,
            }
        )
    return rows


def load_pope_answers(path: str | os.PathLike) -> dict[Hashable, str]:
    """Read POPE answers (JSONL ``{"question_id", "answer"}``, or LLaVA's ``"text"``): id -> answer text.

    Raises:
        InputError: on a malformed line, a row with neither ``answer`` nor ``text``, or an id given twice.
    """
    answers: dict[Hashable, str] = {}
    for lineno, row in iter_jsonl(path, required=("question_id",)):
        where = f"{path}:{lineno}"
        if "answer" not in row and "text" not in row:
            raise InputError(f"{where}: missing field 'answer' (or 'text')")
        qid = _field(row, "question_id", where, _ID)
        if qid in answers:
            raise InputError(f"{where}: field 'question_id' = {qid!r} appears twice")
        answers[qid] = _field(row, "answer" if "answer" in row else "text", where, str)
    return answers


def load_amber_queries(path: str | os.PathLike) -> list[dict]:
    """Read an AMBER query file (JSON list of ``{"id", "image", "query"}``).

    Raises:
        InputError: if the file is not a JSON list, or an entry lacks a field (named with its index).
    """
    path = Path(path)
    data = _load_json(path)
    if not isinstance(data, list):
        raise InputError(f"{path}: expected a JSON list of queries, got {type(data).__name__}")
    out = []
    for i, row in enumerate(data):
        where = f"{path}: [{i}]"
        out.append(
            {
                "id": _field(row, "id", where, _ID),
                "image": _field(row, "image", where, str),
                "query": _field(row, "query", where, str),
            }
        )
    return out


def _words(value: Any, where: str, name: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(w, str) for w in value):
        raise InputError(f"{where}: field {name!r} must be a list of words for a generative row")
    return tuple(w.strip().lower() for w in value if w.strip())


def load_amber_annotations(path: str | os.PathLike) -> dict[Hashable, AmberAnnotation]:
    """Read AMBER's ``annotations.json``: id -> :class:`AmberAnnotation`.

    Generative rows need ``truth`` and ``hallu`` word lists; discriminative rows (``type`` starting
    with ``"discriminative"``) need ``truth`` = ``"yes"``/``"no"``.

    Raises:
        InputError: on a missing or mistyped field, an unknown type or a repeated id.
    """
    path = Path(path)
    data = _load_json(path)
    if not isinstance(data, list):
        raise InputError(f"{path}: expected a JSON list of annotations, got {type(data).__name__}")
    out: dict[Hashable, AmberAnnotation] = {}
    for i, row in enumerate(data):
        where = f"{path}: [{i}]"
        aid = _field(row, "id", where, _ID)
        kind = _field(row, "type", where, str)
        image = row.get("image")
        if kind == "generative":
            truth: tuple[str, ...] | str = _words(_field(row, "truth", where), where, "truth")
            hallu = _words(_field(row, "hallu", where), where, "hallu")
        elif kind.startswith("discriminative"):
            truth = _field(row, "truth", where, str).strip().lower()
            if truth not in ("yes", "no"):
                raise InputError(f"{where}: field 'truth' must be 'yes' or 'no' for a {kind} row")
            hallu = ()
        else:
            raise InputError(f"{where}: field 'type' = {kind!r} is neither generative nor discriminative")
        if aid in out:
            raise InputError(f"{where}: field 'id' = {aid!r} appears twice")
        out[aid] = AmberAnnotation(id=aid, type=kind, truth=truth, hallu=hallu, image=image)
    return out


def load_amber_responses(path: str | os.PathLike) -> dict[Hashable, str]:
    """Read model responses to AMBER queries: id -> response text.

    Accepts AMBER's own format (a JSON list of ``{"id", "response"}``) and the same rows as JSONL
    (any file whose name ends in ``.jsonl``).

    Raises:
        InputError: on a malformed file or line, a missing field, or an id given twice.
    """
    path = Path(path)
    if path.suffix == ".jsonl":
        rows = [(f"{path}:{n}", row) for n, row in iter_jsonl(path, required=("id", "response"))]
    else:
        data = _load_json(path)
        if not isinstance(data, list):
            raise InputError(f"{path}: expected a JSON list of responses, got {type(data).__name__}")
        rows = [(f"{path}: [{i}]", row) for i, row in enumerate(data)]
    out: dict[Hashable, str] = {}
    for where, row in rows:
        rid = _field(row, "id", where, _ID)
        if rid in out:
            raise InputError(f"{where}: field 'id' = {rid!r} appears twice")
        out[rid] = _field(row, "response", where, str)
    return out
