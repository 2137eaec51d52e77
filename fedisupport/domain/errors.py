"""Errors the domain raises; callers turn them into a form message, a 4xx or a CLI line."""


class DomainError(Exception):
    """A request that cannot be carried out as asked; the message is for the person asking."""


class FieldError(DomainError):
    """A problem with one field of a form, named so the page can show the message beside it.

    Pages can't tell the field from the message's words: the message may be translated.
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class NotFound(DomainError):
    pass


class Conflict(DomainError):
    pass
