"""Read YAML and turn every way it can be wrong into a one-line JinbaoError naming file and entry."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from core.errors import JinbaoError

M = TypeVar("M", bound=BaseModel)


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that rejects duplicate mapping keys instead of silently keeping the last one."""


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark)
        seen.add(key)
    return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def read_yaml(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise JinbaoError("file not found", file=str(path)) from None
    except IsADirectoryError:
        raise JinbaoError("is a directory, not a file", file=str(path)) from None
    except NotADirectoryError:
        raise JinbaoError(f"{path.parent} is not a directory", file=str(path)) from None
    except OSError as e:
        raise JinbaoError(f"cannot read: {e.strerror or e}", file=str(path)) from None
    except UnicodeDecodeError as e:
        raise JinbaoError(f"not UTF-8 text ({e.reason})", file=str(path)) from None
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else None
        problem = " ".join(str(p) for p in (e.context, e.problem) if p)
        raise JinbaoError(f"malformed YAML: {problem}", file=str(path), entry=where) from None
    except yaml.YAMLError as e:
        raise JinbaoError(f"malformed YAML: {e}", file=str(path)) from None


def parse_model(model: type[M], data: Any, path: Path) -> M:
    if not isinstance(data, dict):
        raise JinbaoError("expected a mapping at the top level", file=str(path))
    try:
        return model.model_validate(data)
    except ValidationError as e:
        err = e.errors()[0]
        entry = ".".join(str(p) for p in err["loc"])
        more = f" (+{e.error_count() - 1} more)" if e.error_count() > 1 else ""
        raise JinbaoError(f"{err['msg']}{more}", file=str(path), entry=entry or None) from None


def require_exactly(keys: Iterable[str], expected: Sequence[str], what: str) -> None:
    """A mapping whose keys must be exactly `expected` (a pydantic validator calls this): a ValueError
    "`what` A, B (missing [...], unknown [...])" otherwise."""
    keys = list(keys)
    missing = [k for k in expected if k not in keys]
    unknown = [k for k in keys if k not in expected]
    if missing or unknown:
        raise ValueError(f"{what} {', '.join(expected)} (missing {missing or 'none'}, unknown {unknown or 'none'})")
