# -*- coding: utf-8 -*-
# Copyright: groundwork.infra contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private to groundwork.infra: the run() every bundle action plugin shares (bundle_build, bundle_fetch, bundle_info).

Arguments are validated against the plugin's spec, the plugin's ``_run`` does the work, a
BundleError becomes a failed result that carries the error's kind, component, file and
reason, anything else a failed result with the traceback, and the remote temporary
directory is removed whatever happened.
"""

from __future__ import annotations

import traceback

from ansible.plugins.action import ActionBase

from ansible_collections.groundwork.infra.plugins.module_utils._bundle_errors import BundleError


def guarded(name, body, cleanup=None):
    """Call ``body()`` and return its result dict; errors become failed results; ``cleanup()`` runs always."""
    try:
        return body()
    except BundleError as exc:
        return {"failed": True, "msg": exc.message, "error": exc.to_dict()}
    except Exception as exc:  # pylint: disable=broad-except
        return {"failed": True, "msg": "%s failed unexpectedly: %s" % (name, exc), "exception": traceback.format_exc()}
    finally:
        if cleanup is not None:
            cleanup()


class BundleAction(ActionBase):
    """Base of the bundle action plugins: subclasses set NAME (and ARGUMENT_SPEC) and implement _run(args, task_vars).

    Without an ARGUMENT_SPEC the task's arguments go to ``_run`` as given (the module validates them).
    """

    NAME = "bundle"
    ARGUMENT_SPEC = None
    VALIDATION = {}

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super(BundleAction, self).run(tmp, task_vars)
        del tmp
        if self.ARGUMENT_SPEC is None:
            args = self._task.args
        else:
            args = self.validate_argument_spec(argument_spec=self.ARGUMENT_SPEC, **self.VALIDATION)[1]
        result.update(guarded(self.NAME, lambda: self._run(args, task_vars), self._remove_remote_tmp))
        return result

    def _remove_remote_tmp(self):
        if self._connection._shell.tmpdir:
            self._remove_tmp_path(self._connection._shell.tmpdir)

    def _run(self, args, task_vars):  # pragma: no cover - every subclass implements it
        raise NotImplementedError
