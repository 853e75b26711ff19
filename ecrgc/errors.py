"""The one error hierarchy of ecrgc, handled in one place (`ecrgc.cli`).

    EcrgcError                 anything ecrgc raises on purpose; printed as one line, never a traceback
    ├── UsageError             a bad option or argument on the command line          (exit 1)
    ├── ConfigError            a policy, .env or plan file that does not validate     (exit 1)
    ├── SourceUnavailable      a source of truth could not be read: fail closed       (exit 1)
    ├── PlanRefused            apply refuses a plan (hash, version, expiry, target)   (exit 3)
    └── RemoteError            AWS / Kubernetes / GitHub failed in a way we classify  (exit 1)

Every message says what is wrong, where (file and JSON path, context and resource), and how to fix it.
"""


class EcrgcError(Exception):
    """Base class: its message is complete and meant for the user as it is."""

    exit_code = 1


class UsageError(EcrgcError):
    """The command line asks for something that cannot be done."""


class ConfigError(EcrgcError):
    """A file the user wrote does not validate; `errors` lists every problem, one per line."""

    def __init__(self, message: str, errors: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.errors = errors


class SourceUnavailable(EcrgcError):
    """A source of in-use images or of inventory could not be read; nothing may be deleted."""


class PlanRefused(EcrgcError):
    """A plan file cannot be applied as it is (tampered, expired, foreign target, unknown format)."""

    exit_code = 3


class RemoteError(EcrgcError):
    """A remote service failed; the message carries the service's error code, never its prose alone."""
