"""The taxonomy of prompt axes (``taxonomy.yaml``), loaded into typed records with precise errors.

File format::

    version: 1                      # optional
    axes:
      - name: colour                # unique identifier
        description: ...            # non-empty text
        examples: [red, green]      # non-empty list of strings
        world: true                 # whether the draw world renders and checks this axis
        check: colour               # optional: the key of check()'s verdict that scores it

An error names the file, the line and the field, e.g.
``my.yaml:14: axes[2].world: expected true or false, got 'sometimes'``.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from polyrlaif.core.io import InputError
from polyrlaif.datasets.draw.analogs import WORLD_AXES
from polyrlaif.datasets.draw.detector import AXES_CHECKED

__all__ = ["Taxonomy", "TaxonomyAxis", "load_taxonomy"]

_AXIS_FIELDS = {"name", "description", "examples", "world", "check"}
_REQUIRED = ("name", "description", "examples", "world")


@dataclass(frozen=True)
class TaxonomyAxis:
    """One axis a prompt can vary along.

    Attributes:
        name: identifier (``object``, ``colour``, ``count``, ``spatial``, ...).
        description: what the axis is about.
        examples: example values or phrases.
        world: whether the draw world can render and check it.
        check: the key of :func:`~polyrlaif.datasets.draw.detector.check`'s verdict that scores it, or None.
    """

    name: str
    description: str
    examples: tuple[str, ...]
    world: bool
    check: str | None = None


@dataclass(frozen=True)
class Taxonomy:
    """The axes of a taxonomy file, in file order.

    Attributes:
        axes: the axes.
        source: the file they were read from.
    """

    axes: tuple[TaxonomyAxis, ...]
    source: str

    @property
    def names(self) -> tuple[str, ...]:
        """Every axis name, in file order."""
        return tuple(a.name for a in self.axes)

    @property
    def world_axes(self) -> tuple[str, ...]:
        """Names of the axes the draw world can render and check."""
        return tuple(a.name for a in self.axes if a.world)

    def __getitem__(self, name: str) -> TaxonomyAxis:
        for axis in self.axes:
            if axis.name == name:
                return axis
        raise KeyError(f"no axis {name!r} in {self.source}; axes: {', '.join(self.names)}")


class _Reader:
    """Walks yaml's node tree so every error can name the line it comes from."""

    def __init__(self, source: str) -> None:
        import yaml

        self.source = source
        self._loader = yaml.SafeLoader("")

    def fail(self, node: Any, field: str, message: str) -> InputError:
        return InputError(f"{self.source}:{node.start_mark.line + 1}: {field}: {message}")

    def mapping(self, node: Any, field: str, allowed: set[str]) -> dict[str, tuple[Any, Any]]:
        import yaml

        if not isinstance(node, yaml.MappingNode):
            raise self.fail(node, field, "expected a mapping")
        out: dict[str, tuple[Any, Any]] = {}
        for key, value in node.value:
            name = self.value(key)
            if not isinstance(name, str):
                raise self.fail(key, field or "top level", f"field names must be text, got {name!r}")
            where = f"{field}.{name}" if field else str(name)
            if name not in allowed:
                raise self.fail(key, where, f"unknown field; expected one of {', '.join(sorted(allowed))}")
            if name in out:
                raise self.fail(key, where, "given twice")
            out[name] = (key, value)
        return out

    def value(self, node: Any) -> Any:
        return self._loader.construct_object(node, deep=True)

    def text(self, node: Any, field: str) -> str:
        value = self.value(node)
        if not isinstance(value, str) or not value.strip():
            raise self.fail(node, field, f"expected non-empty text, got {value!r}")
        return value.strip()

    def axis(self, node: Any, field: str) -> TaxonomyAxis:
        import yaml

        fields = self.mapping(node, field, _AXIS_FIELDS)
        for name in _REQUIRED:
            if name not in fields:
                raise self.fail(node, f"{field}.{name}", "missing")
        name = self.text(fields["name"][1], f"{field}.name")
        if not name.isidentifier():
            raise self.fail(fields["name"][1], f"{field}.name", f"{name!r} is not an identifier")
        ex_node = fields["examples"][1]
        if not isinstance(ex_node, yaml.SequenceNode) or not ex_node.value:
            raise self.fail(ex_node, f"{field}.examples", "expected a non-empty list")
        examples = tuple(self.text(n, f"{field}.examples[{i}]") for i, n in enumerate(ex_node.value))
        world_node = fields["world"][1]
        world = self.value(world_node)
        if not isinstance(world, bool):
            raise self.fail(world_node, f"{field}.world", f"expected true or false, got {world!r}")
        if world and name not in WORLD_AXES:
            raise self.fail(
                world_node,
                f"{field}.world",
                f"the draw world cannot render {name!r}; its axes are {', '.join(WORLD_AXES)}",
            )
        check = None
        if "check" in fields and self.value(fields["check"][1]) is not None:
            check = self.text(fields["check"][1], f"{field}.check")
            if not world or check not in AXES_CHECKED:
                raise self.fail(
                    fields["check"][1],
                    f"{field}.check",
                    f"{check!r}: only a world axis has a check, one of {', '.join(AXES_CHECKED)}",
                )
        return TaxonomyAxis(
            name, self.text(fields["description"][1], f"{field}.description"), examples, world, check
        )


def load_taxonomy(path: str | Path | None = None) -> Taxonomy:
    """Read a taxonomy file.

    Args:
        path: a YAML file in the format of the module docstring; None reads the packaged
            ``taxonomy.yaml``.

    Returns:
        The typed taxonomy.

    Raises:
        InputError: when the file is missing, not YAML, or a field is missing, unknown, mistyped or
            duplicated; the message reads ``file:line: field: what is wrong``.
    """
    import yaml

    if path is None:
        ref = resources.files("polyrlaif.datasets.draw") / "taxonomy.yaml"
        source, text = "taxonomy.yaml (packaged)", ref.read_text(encoding="utf-8")
    else:
        source = str(path)
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"{source}: cannot read taxonomy file ({exc})") from None
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        raise InputError(f"{source}{line}: malformed YAML ({getattr(exc, 'problem', exc)})") from None
    if root is None:
        raise InputError(f"{source}: empty taxonomy file; expected a mapping with 'axes'")
    reader = _Reader(source)
    top = reader.mapping(root, "", {"version", "axes"})
    if "axes" not in top:
        raise reader.fail(root, "axes", "missing")
    axes_node = top["axes"][1]
    if not isinstance(axes_node, yaml.SequenceNode) or not axes_node.value:
        raise reader.fail(axes_node, "axes", "expected a non-empty list of axes")
    axes: list[TaxonomyAxis] = []
    for i, node in enumerate(axes_node.value):
        axis = reader.axis(node, f"axes[{i}]")
        if axis.name in {a.name for a in axes}:
            raise reader.fail(node, f"axes[{i}].name", f"axis {axis.name!r} is listed twice")
        axes.append(axis)
    return Taxonomy(tuple(axes), source)
