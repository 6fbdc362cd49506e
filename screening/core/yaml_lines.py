"""YAML with line numbers: mappings and lists that remember where each item
stood in the rule file, so every problem can name its line."""

from __future__ import annotations

import re
from typing import Any

import yaml

try:
    from yaml import CSafeLoader as _CBase
except ImportError:  # PyYAML built without libyaml
    from yaml import SafeLoader as _CBase  # type: ignore[assignment]

from .model import RuleFileError


class LineDict(dict[str, Any]):
    """A mapping that remembers the line of each key and of itself."""

    line: int = 0
    key_lines: dict[str, int]


class LineList(list[Any]):
    """A list that remembers the line of each item and of itself."""

    line: int = 0
    item_lines: list[int]


class _Loader(yaml.SafeLoader):
    """SafeLoader that keeps line numbers and reads yes/no/on/off and dates as
    plain strings, since answers such as ``yes`` must not become booleans."""

    duplicate_keys: list[tuple[int, str]]


class _FastLoader(_CBase):
    """The same on libyaml, which parses the rule file ten times faster; the
    pure-Python ``_Loader`` stays the one that words and places syntax errors."""

    duplicate_keys: list[tuple[int, str]]


def _resolvers() -> dict[Any, list[tuple[str, re.Pattern[str]]]]:
    resolvers = {
        first: [
            (tag, regexp)
            for tag, regexp in found
            if tag not in ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:timestamp")
        ]
        for first, found in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    for first in "tTfF":
        resolvers.setdefault(first, []).append(
            ("tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"))
        )
    return resolvers


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> LineDict:
    result = LineDict()
    result.line = node.start_mark.line + 1
    result.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        key = str(key)
        if key in result:
            loader.duplicate_keys.append((key_node.start_mark.line + 1, key))
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_lines[key] = key_node.start_mark.line + 1
    return result


def _construct_sequence(loader: _Loader, node: yaml.SequenceNode) -> LineList:
    result = LineList(loader.construct_object(child, deep=True) for child in node.value)
    result.line = node.start_mark.line + 1
    result.item_lines = [child.start_mark.line + 1 for child in node.value]
    return result


_LOADERS: tuple[Any, ...] = (_Loader, _FastLoader)
for _loader in _LOADERS:
    _loader.yaml_implicit_resolvers = _resolvers()
    _loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
    _loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)


def read_yaml(text: str, path: str) -> tuple[Any, list[tuple[int, str]]]:
    """The document in ``text`` with line numbers, and its duplicate keys as
    (line, key); raise ``RuleFileError`` naming the line of a syntax error."""
    fast = _FastLoader(text)
    fast.duplicate_keys = []
    try:
        return fast.get_single_data(), fast.duplicate_keys
    except yaml.YAMLError:
        pass  # parsed again below, for the error as the pure-Python parser words it
    finally:
        fast.dispose()
    loader = _Loader(text)
    loader.duplicate_keys = []
    try:
        return loader.get_single_data(), loader.duplicate_keys
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        raise RuleFileError([f"{path}:{line}: YAML syntax error: {exc.problem or exc.context}"]) from exc
    except yaml.YAMLError as exc:
        raise RuleFileError([f"{path}: YAML error: {exc}"]) from exc
    finally:
        loader.dispose()


def compose_nodes(text: str) -> yaml.Node | None:
    """The node tree of ``text`` (each node knows its line), through libyaml when PyYAML has it;
    a syntax error is raised as the pure-Python composer words and places it."""
    try:
        return yaml.compose(text, Loader=_CBase)
    except yaml.YAMLError:
        return yaml.compose(text, Loader=yaml.SafeLoader)
