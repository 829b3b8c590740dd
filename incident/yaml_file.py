"""YAML files people write (the config, drill scenarios): loaded into a pydantic model, or every problem reported
with its YAML path and line, so a mistake is found in the file and not guessed at."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

Path_ = tuple[str | int, ...]
Lines = dict[Path_, int]
M = TypeVar("M", bound=BaseModel)


class Problem(BaseModel):
    path: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"line {self.line}: " if self.line else ""
        return f"{where}{self.path or '(top level)'}: {self.message}"


class FileProblems(Exception):
    """The file cannot be used. `problems` lists every one found, with path and line."""

    def __init__(self, source: str, problems: list[Problem]):
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: {len(problems)} problem(s)\n" + "\n".join(f"  {p}" for p in problems))


def dotted(path: Path_) -> str:
    """`services.checkout.escalation`, `steps[2].expect`."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def line_index(text: str) -> Lines:
    """Map every YAML path to its 1-based line, so errors point into the file."""
    index: Lines = {}

    def walk(node: yaml.Node, path: Path_) -> None:
        index.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                sub = (*path, key.value)
                index[sub] = key.start_mark.line + 1
                walk(value, sub)
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                walk(item, (*path, i))

    try:
        root = yaml.compose(text)
    except yaml.YAMLError:
        return index
    if root is not None:
        walk(root, ())
    return index


def line_for(index: Lines, path: Path_) -> int | None:
    """The line of `path`, or of its nearest parent the file has."""
    while path:
        if path in index:
            return index[path]
        path = path[:-1]
    return None


def validate_yaml(
    text: str,
    source: str,
    model: type[M],
    error: type[FileProblems],
    what: str,
    skip: Callable[[str], bool] = lambda part: "[" in part,
    relocate: Callable[[Path_, str], tuple[Path_, str]] = lambda loc, msg: (loc, msg),
    context: dict[str, object] | None = None,
) -> tuple[M, Lines]:
    """Parse and validate, or raise `error` with every problem. `skip` drops pydantic's own path parts (union
    tags); `relocate` lets a model-level message that names its place (`steps[1]: …`) be reported there."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = mark.line + 1 if mark else None
        raise error(source, [Problem(path="", line=line, message=f"not valid YAML: {e}")]) from None
    if not isinstance(data, dict):
        raise error(source, [Problem(path="", line=1, message=f"{what} must be a YAML mapping")])
    lines = line_index(text)
    try:
        return model.model_validate(data, context=context), lines
    except ValidationError as e:
        problems = []
        for err in e.errors():
            loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and skip(p)))
            msg = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                msg = "unknown field (check the spelling)"
            loc, msg = relocate(loc, msg)
            problems.append(Problem(path=dotted(loc), line=line_for(lines, loc), message=msg))
        raise error(source, problems) from None


def read_text(path: Path, error: type[FileProblems]) -> str:
    try:
        return path.read_text()
    except OSError as e:
        raise error(str(path), [Problem(path="", line=None, message=f"cannot read: {e.strerror}")]) from None
