"""What clients send and receive: pydantic models shared by the pages and the JSON API."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, ValidationError


class BookIn(BaseModel):
    """A book as a client writes it (the JSON API's body, the page form's fields)."""

    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")

    title: str = Field(min_length=1, max_length=200, examples=["The Dispossessed"])
    author: str = Field(min_length=1, max_length=120, examples=["Ursula K. Le Guin"])
    year: int | None = Field(default=None, ge=-3000, le=2100, examples=[1974])
    description: str = Field(default="", max_length=4000)


class BookOut(BookIn):
    """A stored book."""

    model_config = ConfigDict(extra="ignore")

    id: int
    cover_url: str | None = Field(default=None, description="The cover image's path, if the book has one.")


# Messages for people filling in a form, by pydantic error type; others keep pydantic's message.
_FRIENDLY = {
    "string_too_short": "This field is required.",
    "string_too_long": "Keep it under {max_length} characters.",
    "int_parsing": "Enter a whole number, like 1965.",
    "int_from_float": "Enter a whole number, like 1965.",
    "less_than_equal": "Enter a number no larger than {le}.",
    "greater_than_equal": "Enter a number no smaller than {ge}.",
}


def field_errors(exc: ValidationError) -> dict[str, str]:
    """One readable message per field that failed (the first one), keyed by field name."""
    errors: dict[str, str] = {}
    for error in exc.errors():
        field = str(error["loc"][0]) if error["loc"] else "__all__"
        if field not in errors:
            template = _FRIENDLY.get(error["type"])
            errors[field] = template.format(**error.get("ctx", {})) if template else error["msg"]
    return errors
