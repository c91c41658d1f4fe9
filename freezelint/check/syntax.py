"""Small questions about libcst nodes that every layer asks (no scopes, no kinds)."""

from __future__ import annotations


import libcst as cst

from freezelint.check.traverse import walk  # noqa: F401  (re-exported: every layer walks)

_EMPTY = cst.Module(body=[])


def dotted(expr: cst.BaseExpression) -> str | None:
    """`a.b.c` for a chain of names and attributes, else None."""
    if isinstance(expr, cst.Name):
        return expr.value
    if isinstance(expr, cst.Attribute):
        base = dotted(expr.value)
        return f"{base}.{expr.attr.value}" if base else None
    return None


def import_name(node: cst.BaseExpression) -> str:
    return dotted(node) or ""


def string_value(expr: cst.BaseExpression) -> str | None:
    if isinstance(expr, cst.SimpleString):
        try:
            value = expr.evaluated_value
        except Exception:  # malformed escapes: not a name we know
            return None
        return value if isinstance(value, str) else None
    return None


def call_arg(call: cst.Call, pos: int, keyword: str | None = None) -> cst.BaseExpression | None:
    """The argument at positional index `pos` (or passed as `keyword`), else None."""
    positional = [a for a in call.args if a.keyword is None and not a.star]
    if pos < len(positional):
        return positional[pos].value
    if keyword is not None:
        for a in call.args:
            if a.keyword is not None and a.keyword.value == keyword:
                return a.value
    return None




def code_of(node: cst.CSTNode) -> str:
    return _EMPTY.code_for_node(node)


def root_of(expr: cst.BaseExpression) -> str | None:
    """`model.layer4.conv` -> "model"; `self.backbone.fc` -> "self.backbone"; `model.blocks[3]` -> "model"."""
    path = dotted(expr)
    if path is None:
        while isinstance(expr, (cst.Attribute, cst.Subscript)):
            expr = expr.value
            path = dotted(expr)
            if path is not None:
                break
    if path is None:
        return None
    parts = path.split(".")
    return ".".join(parts[:2]) if parts[0] == "self" and len(parts) > 1 else parts[0]


def assigned_pairs(target: cst.BaseExpression, value: cst.BaseExpression) -> list[tuple[cst.BaseExpression,
                                                                                        cst.BaseExpression]]:
    """`a, b = x, y` as the two assignments it is (`self.model, self.optimizer = model, optimizer`),
    nested too: (target, value) pairs. A tuple or list target gets its value whole unless the value
    is a tuple or list display of the same length and neither side is starred."""
    if isinstance(target, (cst.Tuple, cst.List)) and isinstance(value, (cst.Tuple, cst.List)) \
            and len(target.elements) == len(value.elements) \
            and not any(isinstance(el, cst.StarredElement) for el in (*target.elements, *value.elements)):
        return [p for t, v in zip(target.elements, value.elements) for p in assigned_pairs(t.value, v.value)]
    return [(target, value)]
