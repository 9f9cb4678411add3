"""The errors of the weights service; each message says what is wrong and how to fix it."""

from __future__ import annotations

import pickle


class WeightsError(Exception):
    """Base of every weights-service error."""


class WeightsMissing(WeightsError, FileNotFoundError):
    """Weight files are not present; the message names them, their source and the fix."""


class WeightsInvalid(WeightsError, ValueError):
    """A file does not fit the architecture it is meant for (keys, shapes, format)."""


class ChecksumMismatch(WeightsInvalid):
    """A file's sha256 differs from the declared one or from the one recorded at install."""


class DownloadError(WeightsError, OSError):
    """A download failed: host unreachable, timed out, refused or cut off too often."""


class UnsafePickle(WeightsError, pickle.UnpicklingError):
    """A pickle asks for a global outside the allow-list, or torch's safe loader refused it."""


class UnknownWeights(WeightsError, KeyError):
    """No declared weight set (or component using one) has that name."""

    def __str__(self) -> str:
        return str(self.args[0])
