"""Errors the domain raises; each carries a message a responder can act on."""


class DomainError(Exception):
    """A request the incident rules refuse; nothing was changed."""


class ValidationFailed(DomainError):
    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


class InvalidTransition(DomainError):
    pass


class IncidentNotFound(DomainError):
    pass
