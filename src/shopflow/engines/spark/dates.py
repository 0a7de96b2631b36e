"""strptime formats (`format:` of a date column, as DuckDB reads them) as Spark datetime patterns."""

from __future__ import annotations

from shopflow.errors import ConfigError

# directive -> (pattern when a separator follows or precedes, pattern when next to another number)
_NUMERIC = {
    "Y": ("yyyy", "yyyy"), "y": ("yy", "yy"), "m": ("M", "MM"), "d": ("d", "dd"), "H": ("H", "HH"),
    "I": ("h", "hh"), "M": ("m", "mm"), "S": ("s", "ss"), "f": ("SSSSSS", "SSSSSS"), "j": ("D", "DDD"),
}
_TEXT = {"b": "MMM", "B": "MMMM", "a": "EEE", "A": "EEEE", "p": "a", "z": "Z"}


def spark_pattern(fmt: str, column: str) -> str:
    """The Spark pattern of the strptime format `fmt`, e.g. `%m/%d/%Y %H:%M` -> `M/d/yyyy H:m`.

    Raises:
        ConfigError: `fmt` has a directive Spark has no pattern for.
    """
    tokens: list[tuple[str, str]] = []  # (kind, text): kind is "num", "text" or "literal"
    i = 0
    while i < len(fmt):
        if fmt[i] == "%" and i + 1 < len(fmt):
            directive = fmt[i + 1]
            if directive in _NUMERIC:
                tokens.append(("num", directive))
            elif directive in _TEXT:
                tokens.append(("text", _TEXT[directive]))
            elif directive == "%":
                tokens.append(("literal", "%"))
            else:
                raise ConfigError(
                    f"column {column!r}: format {fmt!r} has %{directive}, which engine: spark cannot read",
                    fix="use %Y %y %m %d %H %I %M %S %f %j %b %B %a %A %p %z, or engine: duckdb",
                )
            i += 2
        else:
            tokens.append(("literal", fmt[i]))
            i += 1
    out = []
    for n, (kind, text) in enumerate(tokens):
        if kind == "num":
            beside = any(0 <= m < len(tokens) and tokens[m][0] == "num" for m in (n - 1, n + 1))
            out.append(_NUMERIC[text][1 if beside else 0])
        elif kind == "text":
            out.append(text)
        else:
            out.append(f"'{text}'" if text.isalpha() else ("''" if text == "'" else text))
    return "".join(out)
