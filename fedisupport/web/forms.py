"""Reading submitted forms."""
from __future__ import annotations

from starlette.datastructures import FormData


def text_field(form: FormData, name: str, limit: int) -> str:
    """A text field, or "" when missing or not text (a file); cut at `limit` so nothing huge goes further."""
    value = form.get(name)
    return value[:limit] if isinstance(value, str) else ""
