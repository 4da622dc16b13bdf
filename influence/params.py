"""Parameters declared once: type, default, constraint and doc together.

A config section is a frozen dataclass whose fields are declared with
:func:`param` and whose class is decorated with :func:`section`::

    @section("communities")
    class CommunityConfig:
        \"\"\"Leiden community detection.\"\"\"

        resolution: float = param(1.0, Interval(float, 0, None, closed="neither"),
                                  "Modularity resolution gamma.")

Everything else is derived from that one declaration:

- the check when an instance is made: a :class:`~influence.errors.ConfigError`
  naming the dotted key, what was expected and what was got
  (``config key 'communities.resolution' must be a number > 0; got -1``);
- the numpydoc ``Parameters`` section of the class docstring;
- the click type of a command-line option bound to the key
  (:meth:`Constraint.click_type`: ``FloatRange``, ``IntRange``, ``Choice``);
- the config reference, ``docs/config.md`` (:mod:`influence.cli.reference`).

Constraints follow scikit-learn's ``_parameter_constraints`` (``Interval``,
``StrOptions``): small objects that say what they accept in words. A rule that
ties two keys together is a :class:`Relation` given to :func:`section`.

This module imports neither pandas nor click at load, so that the command line
can build its options from the declarations in milliseconds.

Examples
--------
>>> Interval(float, 0, 1, closed="neither").expected
'a number in (0, 1)'
>>> (Interval(int, 1) | Exactly(-1, "until stable")).expected
'an integer >= 1, or -1 (until stable)'
>>> OneOf("igraph", "leidenalg").expected
"'igraph' or 'leidenalg'"
"""

from __future__ import annotations

import dataclasses
import math
import re
import types
from collections.abc import Callable, Iterator
from typing import Any

from .errors import ConfigError

__all__ = ["Constraint", "Interval", "OneOf", "Flag", "Text", "Pattern", "Exactly", "AnyOf",
           "Param", "Relation", "param", "section", "parameters", "relations_of",
           "describe", "default_text"]

_SECTION = "__config_section__"
_RELATIONS = "__config_relations__"


class Constraint:
    """What a parameter accepts. Subclasses set :attr:`expected` and :meth:`accepts`.

    Attributes
    ----------
    expected : str
        The constraint as a phrase that follows "must be": ``"a number > 0"``.
    type_name : str
        The type as numpydoc writes it: ``"float"``, ``"{'a', 'b'}"``.
    """

    expected = "valid"
    type_name = "object"
    #: Whether the type says it all (``bool``): docs then leave out "Must be ...".
    obvious = False

    def accepts(self, value: Any) -> bool:
        """Whether ``value`` satisfies the constraint (after :meth:`convert`)."""
        raise NotImplementedError

    def convert(self, key: str, value: Any) -> Any:
        """The value to keep for ``value`` (dates parsed, lists made tuples, ...).

        Raises ``ValueError`` or ``TypeError`` when it cannot be converted (the
        caller turns that into the usual error), or a ``ConfigError`` of its own.
        """
        return value

    def click_type(self) -> Any:
        """The click parameter type of an option bound to this parameter."""
        return None

    def __or__(self, other: Constraint) -> AnyOf:
        return AnyOf(self, other)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) \
        and math.isfinite(value)


class Interval(Constraint):
    """An integer or a finite number between bounds.

    Parameters
    ----------
    kind : {int, float}
        ``int`` takes integers only; ``float`` takes any finite number
        (integers too, as TOML writes ``1`` for ``1.0``). Booleans are neither.
    low, high : number or None
        Bounds; ``None`` for none.
    closed : {"both", "left", "right", "neither"}, default="both"
        Which bounds belong to the interval.
    """

    def __init__(self, kind: type, low: float | None = None, high: float | None = None, *,
                 closed: str = "both") -> None:
        if kind not in (int, float) or closed not in ("both", "left", "right", "neither"):
            raise ValueError(f"bad Interval({kind!r}, closed={closed!r})")
        self.kind, self.low, self.high = kind, low, high
        self.low_closed = closed in ("both", "left")
        self.high_closed = closed in ("both", "right")
        self.type_name = kind.__name__
        noun = "an integer" if kind is int else "a number"
        if low is not None and high is not None:
            self.expected = (f"{noun} in {'[' if self.low_closed else '('}{low:g}, {high:g}"
                             f"{']' if self.high_closed else ')'}")
        elif low is not None:
            self.expected = f"{noun} {'>=' if self.low_closed else '>'} {low:g}"
        elif high is not None:
            self.expected = f"{noun} {'<=' if self.high_closed else '<'} {high:g}"
        else:
            self.expected = noun

    def accepts(self, value: Any) -> bool:
        if not (_is_int(value) if self.kind is int else _is_number(value)):
            return False
        if self.low is not None and not (value >= self.low if self.low_closed
                                         else value > self.low):
            return False
        return self.high is None or (value <= self.high if self.high_closed
                                     else value < self.high)

    def click_type(self) -> Any:
        import click

        cls: Any = click.IntRange if self.kind is int else click.FloatRange
        return cls(min=self.low, max=self.high, min_open=not self.low_closed,
                   max_open=not self.high_closed)


class OneOf(Constraint):
    """One of a few values (text options)."""

    def __init__(self, *options: Any) -> None:
        self.options = options
        if len(options) == 2:
            self.expected = f"{options[0]!r} or {options[1]!r}"
        else:
            self.expected = f"one of {list(options)}"
        self.type_name = "{" + ", ".join(repr(o) for o in options) + "}"

    def accepts(self, value: Any) -> bool:
        return any(type(value) is type(o) and value == o for o in self.options)

    def click_type(self) -> Any:
        import click

        return click.Choice([str(o) for o in self.options])


class Flag(Constraint):
    """``true`` or ``false``."""

    expected = "true or false"
    type_name = "bool"
    obvious = True

    def accepts(self, value: Any) -> bool:
        return isinstance(value, bool)


class Text(Constraint):
    """A non-empty string."""

    expected = "a non-empty string"
    type_name = "str"

    def accepts(self, value: Any) -> bool:
        return isinstance(value, str) and value.strip() != ""


class Pattern(Constraint):
    """A string matching a regular expression, described in words."""

    type_name = "str"

    def __init__(self, regex: str, expected: str) -> None:
        self.regex = re.compile(regex)
        self.expected = expected

    def accepts(self, value: Any) -> bool:
        return isinstance(value, str) and self.regex.match(value) is not None


class Exactly(Constraint):
    """One special value, with what it means: ``Exactly(-1, "until stable")``."""

    def __init__(self, value: Any, meaning: str) -> None:
        self.value = value
        self.expected = f"{value!r} ({meaning})"
        self.type_name = type(value).__name__

    def accepts(self, value: Any) -> bool:
        return type(value) is type(self.value) and value == self.value


class AnyOf(Constraint):
    """Any of several constraints (write ``a | b``)."""

    def __init__(self, *choices: Constraint) -> None:
        self.choices = choices
        self.expected = ", or ".join(c.expected for c in choices)
        self.type_name = " or ".join(dict.fromkeys(c.type_name for c in choices))

    def accepts(self, value: Any) -> bool:
        return any(c.accepts(value) for c in self.choices)


@dataclasses.dataclass(frozen=True)
class Param:
    """One declared parameter (the metadata of its dataclass field).

    Attributes
    ----------
    section : str
        Dotted name of its section (``"communities"``); set by :func:`section`.
    name : str
        Its key in the section.
    constraint : Constraint
    doc : str
        What it does (the constraint is added when rendered).
    default : object
        The default value (``dataclasses.MISSING`` for a required one).
    optional : bool
        Whether ``None`` ("not set") is allowed.
    """

    constraint: Constraint
    doc: str
    default: Any = dataclasses.MISSING
    optional: bool = False
    section: str = ""
    name: str = ""

    @property
    def key(self) -> str:
        """The dotted config key: ``"communities.resolution"``."""
        return f"{self.section}.{self.name}" if self.section else self.name

    @property
    def type_name(self) -> str:
        name = self.constraint.type_name
        return f"{name} or None" if self.optional else name

    def check(self, value: Any) -> Any:
        """The value to keep, or a :class:`ConfigError` naming the key."""
        if value is None and self.optional:
            return None
        try:
            value = self.constraint.convert(self.key, value)
        except (ValueError, TypeError) as exc:
            if isinstance(exc, ConfigError):
                raise
            raise ConfigError.invalid(self.key, self.constraint.expected, value) from None
        if not self.constraint.accepts(value):
            raise ConfigError.invalid(self.key, self.constraint.expected, value)
        return value

    def click_type(self) -> Any:
        """The click type of a command-line option bound to this parameter."""
        return self.constraint.click_type()


def param(default: Any, constraint: Constraint, doc: str, *, optional: bool = False,
          factory: Callable[[], Any] | None = None) -> Any:
    """Declare a parameter of a :func:`section` class: its default, constraint and doc.

    Parameters
    ----------
    default : object
        The default value (``None`` only with ``optional=True``). Ignored when
        ``factory`` is given.
    constraint : Constraint
        What values are accepted.
    doc : str
        What the parameter does, one or a few sentences.
    optional : bool, default=False
        ``None`` means "not set" and passes the check.
    factory : callable, optional
        Makes the default (for mutable defaults).
    """
    declared = Param(constraint, doc.strip(), default if factory is None else factory(),
                     optional)
    metadata = {"param": declared}
    if factory is not None:
        return dataclasses.field(default_factory=factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


class Relation:
    """A rule between two keys of one section: ``Relation("peripheral_z", "<", "hub_z")``.

    Parameters
    ----------
    name : str
        The key the error names.
    op : {"<", "<=", ">", ">="}
    other : str
        The right side: another key of the section, or an expression of keys
        (``"1 - high_share"``) with ``value`` computing it.
    value : callable, optional
        ``value(instance)`` gives the right side; default the ``other`` key's value.
    words : str, optional
        The operator in words (``"on or before"``); default ``op``.
    test : callable, optional
        ``test(instance)`` decides instead of comparing with ``value`` (to keep
        a rule's exact arithmetic: ``high_share + mid_share <= 1``).
    """

    _OPS = {"<": lambda a, b: a < b, "<=": lambda a, b: a <= b,
            ">": lambda a, b: a > b, ">=": lambda a, b: a >= b}

    def __init__(self, name: str, op: str, other: str, *,
                 value: Callable[[Any], Any] | None = None, words: str | None = None,
                 test: Callable[[Any], bool] | None = None) -> None:
        self.name, self.op, self.other = name, op, other
        self.value = value or (lambda instance: getattr(instance, other))
        self.words = words or op
        self.test = test

    def phrase(self, section: str, fields: set[str]) -> str:
        """The rule as a phrase after "must be", keys qualified by ``section``."""
        other = re.sub(r"[a-z_][a-z0-9_]*",
                       lambda m: f"{section}.{m[0]}" if m[0] in fields else m[0], self.other)
        return f"{self.words} {other}"

    def check(self, instance: Any, section: str, fields: set[str]) -> None:
        left, right = getattr(instance, self.name), self.value(instance)
        if left is None or right is None:
            return
        if (self.test(instance) if self.test is not None else self._OPS[self.op](left, right)):
            return
        raise ConfigError.invalid(f"{section}.{self.name}",
                                  f"{self.phrase(section, fields)} ({_shown(right)})", left)


def _shown(value: Any) -> str:
    """A bound in an error message: ``2.5``; a date as ISO text, a day alone when the
    time is the start or end of that day."""
    if hasattr(value, "isoformat"):
        text = value.isoformat()
        whole_day = text[10:] in ("T00:00:00+00:00", "T23:59:59.999999+00:00")
        return text[:10] if whole_day else text
    return f"{value:g}" if isinstance(value, float) else str(value)


def section(name: str, *, relations: tuple[Relation, ...] = ()) -> Callable[[type], type]:
    """Make a class of :func:`param` fields a frozen, self-checking config section.

    The class becomes a frozen dataclass. Making an instance checks every
    declared field, then each :class:`Relation`, then calls the class's own
    ``_check(self)`` if it has one (for rules no declaration states). The
    class docstring gets a numpydoc ``Parameters`` section rendered from the
    declarations.

    Parameters
    ----------
    name : str
        The section's dotted name (``"communities"``, ``"spark"``), which
        prefixes every key in error messages.
    relations : tuple of Relation
        Rules between keys.
    """

    def decorate(cls: type) -> type:
        declared: list[Param] = []
        own_check = cls.__dict__.get("_check")

        def __post_init__(self) -> None:
            for p in declared:
                value = getattr(self, p.name)
                checked = p.check(value)
                if checked is not value:
                    object.__setattr__(self, p.name, checked)
            for relation in relations:
                relation.check(self, name, fields)
            if own_check is not None:
                own_check(self)

        cls.__post_init__ = __post_init__  # type: ignore[attr-defined]  # before dataclass()
        cls = dataclasses.dataclass(frozen=True)(cls)
        for f in dataclasses.fields(cls):
            found = f.metadata.get("param")
            if found is not None:
                found = dataclasses.replace(found, section=name, name=f.name)
                f.metadata = types.MappingProxyType({**f.metadata, "param": found})
                declared.append(found)
        fields = {p.name for p in declared}
        setattr(cls, _SECTION, name)
        setattr(cls, _RELATIONS, relations)
        lines = [(cls.__doc__ or "").rstrip(), "", "    Parameters", "    ----------"]
        for p in declared:
            lines.append(f"    {p.name} : {p.type_name}, default={default_text(p)}")
            lines.extend(f"        {line}" for line in _wrap(describe(p, cls), 80))
        cls.__doc__ = "\n".join(lines) + "\n"
        return cls

    return decorate


def parameters(cls: Any) -> Iterator[Param]:
    """The declared parameters of a :func:`section` class, in field order."""
    for f in dataclasses.fields(cls):
        if "param" in f.metadata:
            yield f.metadata["param"]


def relations_of(cls: Any) -> tuple[Relation, ...]:
    """The :class:`Relation` rules of a :func:`section` class."""
    return getattr(cls, _RELATIONS, ())


def describe(p: Param, cls: Any) -> str:
    """The doc of ``p`` followed by its constraint and the relations that name it."""
    fields = {q.name for q in parameters(cls)}
    must = [p.constraint.expected]
    must += [r.phrase(p.section, fields) for r in relations_of(cls) if r.name == p.name]
    if p.constraint.obvious and len(must) == 1:
        must = []
    text = p.doc.rstrip()
    if not text.endswith("."):
        text += "."
    if not must:
        return text
    return f"{text} Must be {', and '.join(must)}{' (or not set)' if p.optional else ''}."


def default_text(p: Param, *, toml: bool = False) -> str:
    """The default as Python (or, with ``toml``, as TOML) writes it; TOML has no
    ``None``: ``"not set"``."""
    value = p.default
    if not toml:
        return repr(value)
    if value is None:
        return "not set"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, (tuple, list)):
        return "[" + ", ".join(default_text(dataclasses.replace(p, default=v), toml=True)
                               for v in value) + "]"
    if isinstance(value, float) and abs(value) >= 1e6:
        return f"{value:g}"  # 1e+07, not 10000000.0
    return repr(value)


def _wrap(text: str, width: int) -> list[str]:
    """Greedy word wrap (``textwrap`` costs milliseconds at import, this microseconds)."""
    lines: list[str] = []
    line = ""
    for word in text.split():
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    return lines + [line] if line else lines
