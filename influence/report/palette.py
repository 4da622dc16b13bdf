"""Colours of the report: one style per segment, one colour per large community.

Presentation only. Two colour-blind-safe palettes, so that a segment colour is
never mistaken for a community colour:

* **segments**: Paul Tol's *muted* scheme (nine colours distinct under the
  common colour-vision deficiencies, https://personal.sron.nl/~pault/) plus two
  greys. Each built-in segment has a fixed colour, whatever else is in the
  results, so "champions" looks the same in every report; the two segments
  with nothing to act on (``passive_audience``, ``isolated``) are grey.
* **communities**: the Okabe-Ito scheme (eight colours, Okabe & Ito 2008) for
  communities 0-7 (the largest), grey for the rest.

More segments than colours (custom rules) are handled deliberately rather than
by cycling: a custom segment first takes a muted colour that no segment in the
report uses; when none is left it takes the colours again with the next
*pattern* (a marker shape in scatter plots, a hatch in bar charts, a dashed
outline in the page), so every (colour, pattern) pair stays unique. The page
and every figure read the same :class:`SegmentStyle`.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["SegmentStyle", "segment_styles", "community_color", "text_color",
           "MUTED", "OKABE_ITO", "OTHER", "SUPPRESSED"]

#: Paul Tol's muted scheme: rose, indigo, sand, green, cyan, wine, teal, olive, purple.
MUTED = ("#CC6677", "#332288", "#DDCC77", "#117733", "#88CCEE", "#882255", "#44AA99",
         "#999933", "#AA4499")
#: Okabe-Ito: orange, sky blue, bluish green, yellow, blue, vermillion, reddish purple, black.
OKABE_ITO = ("#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7",
             "#000000")
#: Everything without a colour of its own (small communities).
OTHER = "#BBBBBB"
#: Members of suppressed segments, where a picture shows them (white, grey outline).
SUPPRESSED = "#FFFFFF"

_BUILTIN = {
    "champions": "#882255", "dormant_advocates": "#DDCC77", "connectors": "#332288",
    "local_leaders": "#44AA99", "rising_stars": "#117733", "quiet_influencers": "#AA4499",
    "engaged_members": "#88CCEE", "contributors": "#999933", "newcomers": "#CC6677",
    "passive_audience": "#BBBBBB", "isolated": "#DDDDDD",
}
_MARKERS = ("o", "s", "^", "D", "v", "P")
_HATCHES = ("", "//", "..", "xx", "\\\\", "++")


@dataclass(frozen=True)
class SegmentStyle:
    """How one segment is drawn everywhere.

    Attributes
    ----------
    color : str
        ``#RRGGBB``.
    pattern : int
        0 for the first use of a colour; 1, 2, ... when segments outnumber the
        colours (see the module notes).
    """

    color: str
    pattern: int = 0

    @property
    def marker(self) -> str:
        """matplotlib marker for scatter plots."""
        return _MARKERS[self.pattern % len(_MARKERS)]

    @property
    def hatch(self) -> str:
        """matplotlib hatch for bars ("" for none)."""
        return _HATCHES[self.pattern % len(_HATCHES)]

    @property
    def text(self) -> str:
        """Readable text colour on this background."""
        return text_color(self.color)


def segment_styles(order: list[str]) -> dict[str, SegmentStyle]:
    """A distinct style per segment in ``order`` (built-ins fixed, see the module notes).

    Examples
    --------
    >>> styles = segment_styles(["champions", "vip", "passive_audience"])
    >>> styles["champions"].color, styles["vip"].color, styles["passive_audience"].color
    ('#882255', '#CC6677', '#BBBBBB')
    >>> many = segment_styles([f"s{i}" for i in range(12)])
    >>> len({(s.color, s.pattern) for s in many.values()})
    12
    """
    styles = {s: SegmentStyle(_BUILTIN[s]) for s in order if s in _BUILTIN}
    taken = {(style.color, style.pattern) for style in styles.values()}
    pattern = 0
    for segment in order:
        if segment in styles:
            continue
        while True:
            free = [c for c in MUTED if (c, pattern) not in taken]
            if free:
                break
            pattern += 1
        styles[segment] = SegmentStyle(free[0], pattern)
        taken.add((free[0], pattern))
    return {s: styles[s] for s in order}


def community_color(community: int) -> str:
    """The eight largest communities (numbered 0-7) get an Okabe-Ito colour; others grey."""
    return OKABE_ITO[community] if 0 <= community < len(OKABE_ITO) else OTHER


def text_color(background: str) -> str:
    """Black or white, whichever reads better on ``background`` (WCAG luminance)."""
    channels = []
    for i in (1, 3, 5):
        c = int(background[i:i + 2], 16) / 255
        channels.append(c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4)
    luminance = 0.2126 * channels[0] + 0.7152 * channels[1] + 0.0722 * channels[2]
    return "#000000" if luminance > 0.179 else "#FFFFFF"
