"""The settings reference of docs/profiles.md, generated from the code.

Every registered check's ``Settings`` model (its ``[checks.NAME]`` section) and the Profile's own
top-level keys are rendered as markdown tables: key, default, allowed values, meaning (the
field's description). The tables live in docs/profiles.md between two marker comments; the
prose around them is written by hand. Regenerate after adding or changing a setting::

    python -m hfpc.settings_doc --write docs/profiles.md      # or: hfpc profile doc --write docs/profiles.md
"""

from __future__ import annotations

import argparse
import enum
import sys
import types
import typing
from pathlib import Path
from typing import Any, Literal

import annotated_types
import tomli_w
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

BEGIN = "<!-- settings:begin -->"
END = "<!-- settings:end -->"
REGENERATE = "python -m hfpc.settings_doc --write docs/profiles.md"


FALLBACK_MEANING = {
    "name": "the profile's name, recorded in every result row (default for a file: its name without .toml)",
    "description": "free text shown by hfpc profile show",
    "enabled": "run this check (a disabled check is not part of the verdict)",
    "device": "where the model runs: auto = the GPU when there is one, else the CPU",
}
"""Meanings of keys whose field has no description of its own."""


def _toml(value: Any) -> str:
    """A default as it would be written in a profile's TOML."""
    if isinstance(value, enum.Enum):
        value = value.value
    if isinstance(value, (tuple, list)):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    try:
        return tomli_w.dumps({"x": value}).strip()[len("x = "):]
    except TypeError:
        return repr(value)


def _default(info: FieldInfo) -> str:
    if info.is_required():
        return "required"
    value = info.get_default(call_default_factory=True) if info.default is PydanticUndefined else info.default
    return "unset" if value is None else f"`{_toml(value)}`"


def _choices(annotation: Any) -> list[str]:
    """The values of Literal (or Optional[Literal]) annotations."""
    if typing.get_origin(annotation) is Literal:
        return [_toml(v) for v in typing.get_args(annotation)]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return [c for a in typing.get_args(annotation) for c in _choices(a)]
    return []


def _allowed(info: FieldInfo) -> str:
    choices = _choices(info.annotation)
    if choices:
        return " \\| ".join(f"`{c}`" for c in choices)
    bounds = []
    for m in info.metadata:
        for attr, sign in (("ge", "≥"), ("gt", ">"), ("le", "≤"), ("lt", "<")):
            v = getattr(m, attr, None)
            if v is not None and isinstance(m, (annotated_types.BaseMetadata, annotated_types.Interval)):
                bounds.append(f"{sign} {v:g}" if isinstance(v, float) else f"{sign} {v}")
    return ", ".join(bounds)


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def settings_table(model: type[BaseModel], skip: tuple[str, ...] = ()) -> str:
    """One markdown table of a pydantic model's fields, in declaration order."""
    lines = ["| key | default | allowed | meaning |", "|---|---|---|---|"]
    for name, info in model.model_fields.items():
        if name in skip:
            continue
        meaning = info.description or FALLBACK_MEANING.get(name, "")
        lines.append(f"| `{name}` | {_cell(_default(info))} | {_allowed(info)} | {_cell(meaning)} |")
    return "\n".join(lines)


def render() -> str:
    """Every settings table of docs/profiles.md: the Profile's top level, then each check's section."""
    from hfpc.checks.base import check_names, get_check_class
    from hfpc.profile import DEFAULT_CHECKS, Profile

    out = ["### Top level", "", settings_table(Profile, skip=("checks",)), "",
           "`[checks.NAME]` sections choose the checks that run; the built-in profile has "
           + ", ".join(f"`[checks.{n}]`" for n in DEFAULT_CHECKS) + ".", ""]
    by_model: dict[type[BaseModel], list[str]] = {}
    def order(name: str) -> tuple[bool, bool, bool, str]:
        cls = get_check_class(name)
        return name not in DEFAULT_CHECKS, cls.baseline, not cls.default_enabled, name

    for name in sorted(check_names(), key=order):
        by_model.setdefault(get_check_class(name).Settings, []).append(name)
    for model, names in by_model.items():
        classes = [get_check_class(n) for n in names]
        heading = ", ".join(f"`[checks.{n}]`" for n in names)
        out += [f"### {heading}", ""]
        for n, cls in zip(names, classes):
            role = "baseline, never decides" if cls.baseline else "decides"
            on = "" if cls.default_enabled else "; runs only when its section is in the profile"
            out.append(f"- `{n}` ({role}{on}): {cls.description}" if cls.description else f"- `{n}` ({role}{on})")
        out += ["", settings_table(model), ""]
    return "\n".join(out).rstrip() + "\n"


def splice(document: str, tables: str) -> str:
    """``document`` with the text between the settings markers replaced by ``tables``."""
    try:
        head, rest = document.split(BEGIN, 1)
        _, tail = rest.split(END, 1)
    except ValueError:
        raise ValueError(f"the document has no {BEGIN} … {END} block") from None
    return f"{head}{BEGIN}\n<!-- generated by `{REGENERATE}`; edit the Settings models, not this table -->\n\n" \
           f"{tables}\n{END}{tail}"


def write(path: str | Path) -> bool:
    """Regenerate the tables in the document at ``path``; True when it changed."""
    p = Path(path)
    old = p.read_text(encoding="utf-8")
    new = splice(old, render())
    if new != old:
        p.write_text(new, encoding="utf-8")
    return new != old


def main(argv: list[str] | None = None) -> int:
    """``python -m hfpc.settings_doc [--write FILE]``: print the tables, or write them into FILE."""
    ap = argparse.ArgumentParser(prog="python -m hfpc.settings_doc", description=__doc__.splitlines()[0])
    ap.add_argument("--write", metavar="FILE", help="replace the tables between the settings markers of FILE")
    args = ap.parse_args(argv)
    if args.write:
        changed = write(args.write)
        print(f"{args.write}: {'updated' if changed else 'already up to date'}")
    else:
        sys.stdout.write(render())
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
