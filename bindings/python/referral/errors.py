"""Exceptions of the referral binding, one class per status family.

The C library returns an ``int`` status whose values are the exit-code
families of the ``referral`` command; the binding raises the matching class:

    ReferralError            base of everything below (status attribute)
      UsageError      2      a bad argument: malformed period, unknown export,
                             a closed Store
      InputError      3      rejected input: bad event lines (.errors), an
                             invalid plan, an unknown member
      StateError      4      refused by state: period closed or not the
                             earliest open, store already initialised
        ConflictError 4      an ingest whose every bad line is a conflicting
                             duplicate (.errors)
      StorageError    5      storage, I/O or out-of-memory failure, a missing
                             or foreign store file
      VerifyError     6      verify() found a discrepancy

Problems loading the shared library are not ReferralErrors: they raise
LibraryError, an ImportError, from ``import referral``.
"""

from typing import Dict, Iterable, List, Optional, Type

REFERRAL_OK = 0
REFERRAL_EUSAGE = 2
REFERRAL_EINPUT = 3
REFERRAL_ESTATE = 4
REFERRAL_EIO = 5
REFERRAL_EVERIFY = 6


class LibraryError(ImportError):
    """libreferral could not be found or loaded, or is of another version."""


class ReferralError(Exception):
    """A failed libreferral call.

    ``status`` is the library's status code (the CLI's exit code) and
    ``message`` the library's description of the failure.
    """

    status: Optional[int] = None

    def __init__(self, message: str, status: Optional[int] = None) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status


class UsageError(ReferralError):
    """Status 2: a bad argument (malformed period, unknown table or format,
    a closed Store)."""

    status = REFERRAL_EUSAGE


class _BadLines:
    """Mixin for the failures of an ingest: every bad line is kept.

    ``errors`` lists the reported bad lines as "FILE:LINE: message" (at most
    100, in input order); ``error_count`` counts all of them, also past 100.
    """

    message: str
    errors: List[str]
    error_count: int

    def _set_lines(self, errors: Optional[Iterable[str]], error_count: Optional[int]) -> None:
        self.errors = list(errors or [])
        self.error_count = len(self.errors) if error_count is None else error_count

    def __str__(self) -> str:
        text = self.message
        if self.errors:
            text += "".join("\n" + e for e in self.errors)
            if self.error_count > len(self.errors):
                text += "\n... and %d more bad lines" % (self.error_count - len(self.errors))
        return text


class InputError(_BadLines, ReferralError):
    """Status 3: rejected input. After an ingest, ``errors`` holds every bad
    line as "FILE:LINE: message"; for a bad plan or an unknown member it is
    empty and ``message`` says what is wrong."""

    status = REFERRAL_EINPUT

    def __init__(self, message: str, status: Optional[int] = None,
                 errors: Optional[Iterable[str]] = None, error_count: Optional[int] = None) -> None:
        ReferralError.__init__(self, message, status)
        self._set_lines(errors, error_count)


class StateError(ReferralError):
    """Status 4: refused by the state of the store (period closed or not the
    earliest open, store already initialised)."""

    status = REFERRAL_ESTATE


class ConflictError(_BadLines, StateError):
    """Status 4 from an ingest: every bad line was an event whose key is
    already stored (or earlier in the batch) with other fields. ``errors``
    as for InputError."""

    def __init__(self, message: str, status: Optional[int] = None,
                 errors: Optional[Iterable[str]] = None, error_count: Optional[int] = None) -> None:
        StateError.__init__(self, message, status)
        self._set_lines(errors, error_count)


class StorageError(ReferralError):
    """Status 5: storage, I/O or out-of-memory failure (also: the store file
    is missing or is not a libreferral store)."""

    status = REFERRAL_EIO


class VerifyError(ReferralError):
    """Status 6: verify() found a discrepancy; ``message`` names the first."""

    status = REFERRAL_EVERIFY


_BY_STATUS: Dict[int, Type[ReferralError]] = {
    REFERRAL_EUSAGE: UsageError,
    REFERRAL_EINPUT: InputError,
    REFERRAL_ESTATE: StateError,
    REFERRAL_EIO: StorageError,
    REFERRAL_EVERIFY: VerifyError,
}


def error_for(status: int, message: str) -> ReferralError:
    """The exception for a failed call's ``status`` and message."""
    cls = _BY_STATUS.get(status, ReferralError)
    if cls is ReferralError:
        message = "%s (status %d)" % (message, status)
    return cls(message, status)
