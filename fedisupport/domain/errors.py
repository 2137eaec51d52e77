"""Errors the domain raises; callers turn them into a form message, a 4xx or a CLI line."""


class DomainError(Exception):
    """A request that cannot be carried out as asked; the message is for the person asking."""


class NotFound(DomainError):
    pass


class Conflict(DomainError):
    pass
