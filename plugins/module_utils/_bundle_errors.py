# -*- coding: utf-8 -*-
# Copyright: groundwork.infra contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private to groundwork.infra: one exception hierarchy for the bundle path.

Runs on managed hosts and on the controller: standard library only.
Every error names the component, the file and what did not match, so the
message a user sees is enough to act on.
"""

from __future__ import annotations

import errno


class BundleError(Exception):
    """Base class. ``component`` and ``file`` are optional context."""

    kind = "bundle"

    def __init__(self, reason, component=None, file=None):
        self.reason = reason
        self.component = component
        self.file = file
        super().__init__(self.message)

    @property
    def message(self):
        where = []
        if self.component:
            where.append("component '%s'" % self.component)
        if self.file:
            where.append("file '%s'" % self.file)
        if where:
            return "%s: %s" % (", ".join(where), self.reason)
        return self.reason

    def to_dict(self):
        return {
            "kind": self.kind,
            "component": self.component,
            "file": self.file,
            "reason": self.reason,
            "message": self.message,
        }


class ManifestError(BundleError):
    """The manifest is malformed, too large, expired or otherwise invalid."""

    kind = "manifest"


class SignatureError(BundleError):
    """Signature missing, malformed, or not made by a trusted key."""

    kind = "signature"


class IntegrityError(BundleError):
    """Size or digest of an artifact does not match the manifest."""

    kind = "integrity"


class ArchiveError(BundleError):
    """An archive is unsafe (escapes, special files, bombs) or unreadable."""

    kind = "archive"


class CompatibilityError(BundleError):
    """Requirements between components or on host capabilities are unmet.

    ``problems`` lists every unmet requirement, not just the first.
    """

    kind = "compatibility"

    def __init__(self, problems, component=None, file=None):
        self.problems = list(problems)
        reason = "%d unmet requirement(s): %s" % (len(self.problems), "; ".join(self.problems))
        super().__init__(reason, component=component, file=file)

    def to_dict(self):
        data = super().to_dict()
        data["problems"] = list(self.problems)
        return data


class DownloadError(BundleError):
    """A transfer failed: HTTP error, stall, oversize, truncation."""

    kind = "download"


class RollbackError(BundleError):
    """A release lower than the highest accepted one was offered."""

    kind = "rollback"


class LockError(BundleError):
    """Another run holds the destination lock."""

    kind = "lock"


class StorageError(BundleError):
    """Disk full or another filesystem failure while writing."""

    kind = "storage"


# A full disk and an exhausted quota read the same to the user.
NO_SPACE_ERRNOS = (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC))


def storage_error(exc, doing, component=None, file=None, where="device"):
    """The StorageError for an OSError raised while ``doing`` something (one helper for every bundle module).

    A full disk or quota (ENOSPC, EDQUOT) says "no space left on <where> while <doing>"; any
    other error says "<doing> failed: <reason>". The file name the OS error carries is added
    when the message does not name it already.
    """
    if getattr(exc, "errno", None) in NO_SPACE_ERRNOS:
        reason = "no space left on %s while %s" % (where, doing)
    else:
        reason = "%s failed: %s" % (doing, getattr(exc, "strerror", None) or exc)
    filename = getattr(exc, "filename", None)
    if filename and str(filename) not in reason:
        reason = "%s (%s)" % (reason, filename)
    return StorageError(reason, component=component, file=file)
