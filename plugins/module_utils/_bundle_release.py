# -*- coding: utf-8 -*-
# Copyright: groundwork.infra contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private to groundwork.infra: release layout at a destination. Runs on managed hosts: standard library only.

Layout under ``dest``::

    <dest>/<component>/<version>/        extracted release (read-only payload)
    <dest>/<component>/current -> <version>
    <dest>/.groundwork/state.json        highest accepted release, current release
    <dest>/.groundwork/records/<component>/<version>.json   what was verified and installed
    <dest>/.groundwork/lock              one run at a time per destination
    <dest>/.groundwork/staging/          private staging, same filesystem as the final paths

Nothing reaches a final path before it has been verified, and ``current`` only
moves with an atomic rename of a symlink.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import shutil
import tempfile
import time

from ansible_collections.groundwork.infra.plugins.module_utils._bundle_arch import file_architecture, recorded_architecture
from ansible_collections.groundwork.infra.plugins.module_utils._bundle_errors import (
    ArchiveError,
    BundleError,
    IntegrityError,
    LockError,
    RollbackError,
    StorageError,
    storage_error,
)
from ansible_collections.groundwork.infra.plugins.module_utils._bundle_hash import copy_verified, fsync_dir, hash_file, open_verified_in_place
from ansible_collections.groundwork.infra.plugins.module_utils._bundle_archive import (
    CHAINED_HEADERS,
    Limits,
    check_release_tree,
    extract_archive,
    verify_tree,
)
from ansible_collections.groundwork.infra.plugins.module_utils._bundle_hash import open_regular

META_DIR = ".groundwork"
STATE_FILE = "state.json"
STATE_FORMAT = 1
CURRENT = "current"


class JsonLines(object):
    """A list kept on disk: a file of one JSON value per line (an install record's inventory).

    _write_json_atomic writes it as a JSON array, line by line, so a record of any number
    of entries is written without holding them in memory.
    """

    def __init__(self, path):
        self.path = path

    def __iter__(self):
        with open(self.path, "r") as handle:
            for line in handle:
                yield json.loads(line)


def _dump(data, handle):
    """json.dump(data, indent=2, sort_keys=True), with the JsonLines values of a dict streamed from their files."""
    streamed = sorted(key for key, value in data.items() if isinstance(value, JsonLines)) if isinstance(data, dict) else []
    if not streamed:
        json.dump(data, handle, indent=2, sort_keys=True)
        return
    handle.write("{")
    for index, key in enumerate(sorted(data)):
        handle.write("%s\n  %s: " % ("," if index else "", json.dumps(key)))
        value = data[key]
        if isinstance(value, JsonLines):
            handle.write("[")
            with open(value.path, "r") as lines:
                for number, line in enumerate(lines):
                    handle.write("%s\n    %s" % ("," if number else "", line.rstrip("\n")))
            handle.write("\n  ]")
        else:
            handle.write(json.dumps(value, indent=2, sort_keys=True).replace("\n", "\n  "))
    handle.write("\n}")


def _write_json_atomic(path, data, mode=0o644):
    directory = os.path.dirname(path)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=directory)
    try:
        with os.fdopen(fd, "w") as handle:
            _dump(data, handle)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
        fsync_dir(directory)
    except BaseException:
        if os.path.lexists(tmp):
            os.unlink(tmp)
        raise


def _skip_inventory_entry(obj):
    """object_hook: drop the entries of an inventory (dicts with path and type) as they are parsed."""
    return None if "path" in obj and "type" in obj else obj


_INVENTORY_OPEN = '  "inventory": ['
_INVENTORY_CLOSE = "  ]"


def _without_inventory_lines(handle):
    """The text of a record with the lines of its inventory left out (read line by line, so that
    memory does not grow with the members, threat 26). Records are written with indent 2 (_dump,
    and json.dump before it): the top-level inventory opens with a line '  "inventory": [' and
    closes with '  ]' or '  ],'; entries sit deeper and JSON strings hold no raw newline."""
    kept = []
    skipping = False
    for line in handle:
        bare = line.rstrip("\n")
        if skipping:
            if bare in (_INVENTORY_CLOSE, _INVENTORY_CLOSE + ","):
                kept.append(_INVENTORY_OPEN + bare[2:] + "\n")
                skipping = False
            continue
        if bare == _INVENTORY_OPEN:
            skipping = True
            continue
        kept.append(line)
    if skipping:
        raise ValueError("the inventory of the record does not end")
    return "".join(kept)


def _read_json(path, inventory=True):
    """The JSON document at ``path`` (None if missing). ``inventory=False``: a record without its
    inventory, parsed without holding its entries (memory does not grow with the members)."""
    try:
        with open(path, "r") as handle:
            if not inventory:
                data = json.loads(_without_inventory_lines(handle), object_hook=_skip_inventory_entry)
                if isinstance(data, dict):
                    data.pop("inventory", None)
                return data
            return json.load(handle)
    except (IOError, OSError) as exc:
        if exc.errno == errno.ENOENT:
            return None
        raise
    except ValueError:
        raise BundleError("corrupt state file (not JSON); move it away to reset the destination", file=path)


class Destination(object):
    """One destination directory on a managed host."""

    def __init__(self, path):
        self.path = os.path.abspath(path)
        self.meta = os.path.join(self.path, META_DIR)
        self._lock_fd = None

    # -- paths -------------------------------------------------------------
    def component_dir(self, name):
        return os.path.join(self.path, name)

    def version_dir(self, name, version):
        return os.path.join(self.path, name, version)

    def current_link(self, name):
        return os.path.join(self.path, name, CURRENT)

    def record_path(self, name, version):
        return os.path.join(self.meta, "records", name, version + ".json")

    # -- state -------------------------------------------------------------
    def exists(self):
        return os.path.isdir(self.path)

    def read_state(self):
        state = _read_json(os.path.join(self.meta, STATE_FILE)) if self.exists() else None
        if not state:
            return {"format": STATE_FORMAT, "highest_release": None, "release": None}
        return state

    def write_state(self, state):
        _write_json_atomic(os.path.join(self.meta, STATE_FILE), state)

    def current_version(self, name):
        link = self.current_link(name)
        if not os.path.islink(link):
            return None
        target = os.readlink(link)
        if os.sep in target or not os.path.isdir(self.version_dir(name, target)):
            return None
        return target

    def read_record(self, name, version, inventory=True):
        return _read_json(self.record_path(name, version), inventory=inventory)

    def installed(self, names=None, full=False):
        """Map component -> {current, versions, kind, release, requires, artifacts, intact, problems}."""
        result = {}
        records_root = os.path.join(self.meta, "records")
        if not os.path.isdir(records_root):
            return result
        for name in sorted(os.listdir(records_root)):
            if names and name not in names:
                continue
            versions = []
            for entry in sorted(os.listdir(os.path.join(records_root, name))):
                if entry.endswith(".json") and os.path.isdir(self.version_dir(name, entry[:-5])):
                    versions.append(entry[:-5])
            current = self.current_version(name)
            version_artifacts = {}
            for version in versions:
                version_artifacts[version] = (self.read_record(name, version, inventory=False) or {}).get("artifacts") or []
            info = {"current": current, "versions": versions, "path": self.component_dir(name),
                    "version_artifacts": version_artifacts}
            if current:
                record = self.read_record(name, current, inventory=full) or {}
                info.update({
                    "version": current,
                    "kind": record.get("kind"),
                    "release": record.get("release"),
                    "requires": record.get("requires") or {},
                    "artifacts": record.get("artifacts") or [],
                    "architecture": recorded_architecture(record.get("artifacts")),
                    "installed_at": record.get("installed_at"),
                })
                if full:
                    problems = verify_tree(self.version_dir(name, current), record.get("inventory") or [])
                    info["intact"] = not problems
                    info["problems"] = problems
            result[name] = info
        return result

    def is_installed(self, name, version, artifacts, full=False):
        """True when ``version`` is on disk with a record whose artifacts match (and, if full, the files too)."""
        vdir = self.version_dir(name, version)
        record = self.read_record(name, version, inventory=full) if os.path.isdir(vdir) else None
        if not record:
            return False
        if _artifact_key(record.get("artifacts") or []) != _artifact_key(artifacts):
            return False
        if full and verify_tree(vdir, record.get("inventory") or []):
            return False
        return True

    # -- locking -----------------------------------------------------------
    def lock(self, timeout=300):
        self._ensure_dirs()
        path = os.path.join(self.meta, "lock")
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except (IOError, OSError) as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    os.close(fd)
                    raise
                if time.monotonic() >= deadline:
                    os.close(fd)
                    raise LockError("another run holds the lock on %s for more than %d s" % (self.path, timeout), file=path)
                time.sleep(0.2)
        self._lock_fd = fd

    def unlock(self):
        if self._lock_fd is not None:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            os.close(self._lock_fd)
            self._lock_fd = None

    def _ensure_dirs(self):
        # Two first runs may both find no layout: the one that creates a directory second
        # takes the other's (exist_ok), instead of failing with "File exists".
        try:
            if not os.path.isdir(self.path):
                os.makedirs(self.path, 0o755, exist_ok=True)
            for sub, mode in ((self.meta, 0o700), (os.path.join(self.meta, "staging"), 0o700),
                              (os.path.join(self.meta, "records"), 0o755)):
                if not os.path.isdir(sub):
                    try:
                        os.mkdir(sub, mode)
                    except FileExistsError:
                        if not os.path.isdir(sub):
                            raise
        except OSError as exc:
            raise storage_error(exc, "creating %s" % self.path)

    def clean_stale_staging(self):
        """Remove staging left behind by a killed run (call with the lock held)."""
        staging = os.path.join(self.meta, "staging")
        removed = []
        if os.path.isdir(staging):
            for entry in os.listdir(staging):
                shutil.rmtree(os.path.join(staging, entry), ignore_errors=True)
                removed.append(entry)
        for name in os.listdir(self.path) if os.path.isdir(self.path) else []:
            cdir = self.component_dir(name)
            if name == META_DIR or not os.path.isdir(cdir) or os.path.islink(cdir):
                continue
            for entry in os.listdir(cdir):
                if entry.startswith(".current.tmp-"):
                    os.unlink(os.path.join(cdir, entry))
        return removed

    def new_staging(self):
        try:
            return tempfile.mkdtemp(prefix="stage-", dir=os.path.join(self.meta, "staging"))
        except OSError as exc:
            raise storage_error(exc, "creating a staging directory under %s" % self.meta)

    # -- install -----------------------------------------------------------
    def stage_component(self, component, limits, staging, full=False):
        """Verify and unpack one component's artifacts into ``staging``; return (tree, inventory, stats).

        ``inventory`` is a JsonLines file in ``staging``: the record's entries, written while unpacking.

        Unless ``full``, an archive read in place whose verified stamp (``<src>.stamp``, as the
        controller's artifact cache writes it) vouches for the open file is not hashed again.
        """
        name = component["name"]
        tree = os.path.join(staging, "tree")
        os.mkdir(tree, 0o755)
        files = os.path.join(staging, "files")
        os.mkdir(files, 0o700)
        stats = {"files": 0, "bytes": 0, "artifacts": []}
        # The install record's inventory, one JSON line per entry as it is written (threat row 26:
        # memory does not grow with the number of members).
        inventory_path = os.path.join(staging, "inventory.jsonl")
        inventory = os.fdopen(os.open(inventory_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600), "w")
        with inventory:
            self._stage_artifacts(component, limits, staging, tree, files, stats, inventory, full)
        os.chmod(tree, 0o755)
        fsync_dir(tree)  # the entries moved in above; what is below them was made durable by extract_archive
        return tree, JsonLines(inventory_path), stats

    def _stage_artifacts(self, component, limits, staging, tree, files, stats, inventory, full):
        name = component["name"]
        for index, art in enumerate(component["artifacts"]):
            algorithm = "sha512" if art.get("sha512") else "sha256"
            digest = art.get(algorithm)
            local = os.path.join(files, art["name"])
            source = None
            try:
                if art.get("unpack"):
                    # An archive is only read, never moved into place: verify it where it is when
                    # nobody but this user can change it, and unpack from the very handle that was
                    # hashed. Otherwise (another owner, group/other writable) a private copy below.
                    source, copied = open_verified_in_place(art["src"], digest, art["size"], algorithm=algorithm,
                                                            component=name, file=art["name"],
                                                            stamp_path=None if full else art["src"] + ".stamp")
                if source is None:
                    with open_regular(art["src"], IntegrityError, component=name, file=art["name"], what="artifact") as src:
                        fd = os.open(local, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
                        with os.fdopen(fd, "wb") as dst:
                            copied = copy_verified(src, dst, digest, art["size"], algorithm=algorithm, component=name, file=art["name"])
                            dst.flush()
                            if not art.get("unpack"):
                                # This file itself becomes part of the release. A copy of an archive is
                                # removed after unpacking, so flushing it to disk would buy nothing.
                                os.fchmod(dst.fileno(), 0o755 if art.get("executable") else 0o644)
                                os.fsync(dst.fileno())
            except (IOError, OSError) as exc:
                if exc.errno == errno.ENOENT:
                    raise BundleError("artifact was not delivered to the host (%s missing)" % art["src"], component=name, file=art["name"])
                raise storage_error(exc, "copying the artifact into staging", component=name, file=art["name"])
            stats["artifacts"].append({"name": art["name"], "algorithm": algorithm, "digest": copied["digest"], "bytes": copied["bytes"],
                                       "checked": copied.get("checked", algorithm)})
            stats["bytes"] += copied["bytes"]
            if art.get("unpack"):
                cap = art.get("unpacked_size")
                alimits = Limits(max_members=limits.max_members,
                                 max_bytes=min(limits.max_bytes, cap) if cap is not None else limits.max_bytes)
                target = os.path.join(staging, "x%d" % index)
                try:
                    os.mkdir(target, 0o700)
                    extracted = extract_archive(source.name if source is not None else local, target, alimits,
                                                component=name, file=art["name"], fileobj=source, inventory=inventory)
                except OSError as exc:
                    raise storage_error(exc, "extracting", component=name, file=art["name"])
                except RecursionError:
                    # tarfile reads each chained PAX/GNU long-name header one recursion level deeper (threat 25).
                    raise ArchiveError(CHAINED_HEADERS, component=name, file=art["name"]) from None
                finally:
                    if source is not None:
                        source.close()
                stats["files"] += extracted["files"]
                for entry in sorted(os.listdir(target)):
                    if os.path.lexists(os.path.join(tree, entry)):
                        raise ArchiveError("'%s' is provided by more than one artifact" % entry, component=name, file=art["name"])
                    os.rename(os.path.join(target, entry), os.path.join(tree, entry))
                os.rmdir(target)
                if any(other.get("unpack") for other in component["artifacts"][:index]):
                    # Each archive was judged alone: judge the links again against the tree it joined (threat 19).
                    check_release_tree(tree, component=name, file=art["name"])
                if source is None:
                    os.unlink(local)
            else:
                if os.path.lexists(os.path.join(tree, art["name"])):
                    raise ArchiveError("'%s' is provided by more than one artifact" % art["name"], component=name, file=art["name"])
                built_for = file_architecture(local) if art.get("arch") else None
                if built_for is not None and built_for != art["arch"]:
                    # Signed and intact, but labelled for another architecture than the program it holds (threat 27).
                    raise IntegrityError("artifact is labelled %s but is an executable for %s" % (art["arch"], built_for),
                                         component=name, file=art["name"])
                placed = os.path.join(tree, art["name"])
                os.rename(local, placed)
                digest = copied["digest"] if algorithm == "sha256" else hash_file(placed, "sha256")[0]
                inventory.write(json.dumps({"path": art["name"], "type": "file", "size": copied["bytes"],
                                            "mode": 0o755 if art.get("executable") else 0o644, "sha256": digest, "target": None},
                                           sort_keys=True) + "\n")
                stats["files"] += 1

    def switch_current(self, name, version):
        """Point <component>/current at ``version`` with one atomic rename. Returns True if it moved."""
        link = self.current_link(name)
        if self.current_version(name) == version:
            return False
        tmp = os.path.join(self.component_dir(name), ".current.tmp-%d" % os.getpid())
        if os.path.lexists(tmp):
            os.unlink(tmp)
        os.symlink(version, tmp)
        os.replace(tmp, link)
        fsync_dir(self.component_dir(name))
        return True

    def prune(self, name, keep):
        """Remove old versions beyond the ``keep`` most recently installed (never the current one)."""
        if keep is None or keep < 1:
            return []
        current = self.current_version(name)
        records_dir = os.path.join(self.meta, "records", name)
        if not os.path.isdir(records_dir):
            return []
        entries = []
        for entry in os.listdir(records_dir):
            if not entry.endswith(".json"):
                continue
            version = entry[:-5]
            record = self.read_record(name, version, inventory=False) or {}
            entries.append((record.get("installed_at") or 0, version))
        entries.sort(reverse=True)
        removed = []
        kept = 0
        for _stamp, version in entries:
            if version == current:
                kept += 1
                continue
            if kept < keep:
                kept += 1
                continue
            shutil.rmtree(self.version_dir(name, version), ignore_errors=True)
            os.unlink(self.record_path(name, version))
            removed.append(version)
        return removed


def _clean_after_crash(destination):
    """A run with nothing to change still removes what a killed run left in staging, if no run is active."""
    staging = os.path.join(destination.meta, "staging")
    try:
        if not os.listdir(staging):
            return
    except OSError:
        return
    try:
        destination.lock(0)
    except (LockError, StorageError, OSError):
        return  # another run is working (and cleans up itself), or we cannot write here: leave it
    try:
        destination.clean_stale_staging()
    finally:
        destination.unlock()


def _artifact_key(artifacts):
    key = []
    for art in artifacts:
        algorithm = "sha512" if art.get("sha512") else "sha256"
        key.append((art.get("name"), algorithm, (art.get(algorithm) or "").lower(), art.get("size"), bool(art.get("unpack")),
                    art.get("arch") or ""))
    return sorted(key)


def install_release(dest, release, components, check_mode=False, verify="fast", expected_highest_release=None,
                    record_highest_release=None, limits=None, keep=3, lock_timeout=300, now=None):
    """Install verified components at ``dest`` and switch their ``current`` links.

    ``components``: list of dicts with name, version, kind, requires and artifacts
    (name, src, sha256|sha512, size, unpack, unpacked_size). ``expected_highest_release``
    is the highest accepted release the caller compared against (compare and swap:
    the install fails if the destination changed in between). Returns a result dict.
    """
    limits = limits or Limits()
    destination = Destination(dest)
    full = verify == "full"
    plan = []
    state = destination.read_state()
    if expected_highest_release is not None or record_highest_release is not None:
        recorded = state.get("highest_release")
        if recorded != expected_highest_release:
            raise RollbackError(
                "the highest accepted release at %s is %s, but this run compared against %s: another run changed "
                "the destination in between; run again" % (destination.path, recorded, expected_highest_release),
                file=os.path.join(destination.meta, STATE_FILE))
    for comp in components:
        name, version = comp["name"], comp["version"]
        current = destination.current_version(name)
        present = destination.is_installed(name, version, comp["artifacts"], full=full)
        action = "none"
        if not present:
            action = "install"
        elif current != version:
            action = "switch"
        plan.append({"name": name, "version": version, "previous": current, "action": action})
    state_changes = (state.get("release") != release) or (
        record_highest_release is not None and state.get("highest_release") != record_highest_release)
    changed = any(p["action"] != "none" for p in plan) or state_changes
    result = {"changed": changed, "plan": plan, "dest": destination.path, "release": release,
              "verified": {"files": 0, "bytes": 0, "artifacts": []}, "pruned": {}}
    if check_mode:
        return result
    if not changed:
        _clean_after_crash(destination)
        return result

    destination.lock(lock_timeout)
    created = []
    replaced = []
    switched = []
    try:
        # Re-read under the lock: the compare-and-swap must hold while we work.
        state = destination.read_state()
        if (expected_highest_release is not None or record_highest_release is not None) and \
                state.get("highest_release") != expected_highest_release:
            raise RollbackError(
                "the highest accepted release at %s changed to %s while this run waited for the lock; run again" % (
                    destination.path, state.get("highest_release")),
                file=os.path.join(destination.meta, STATE_FILE))
        destination.clean_stale_staging()
        staged = []
        for comp, item in zip(components, plan):
            if item["action"] != "install":
                continue
            staging = destination.new_staging()
            staged.append(staging)
            try:
                tree, inventory, stats = destination.stage_component(comp, limits, staging, full=full)
            except BundleError:
                raise
            except OSError as exc:
                raise storage_error(exc, "staging", component=comp["name"])
            result["verified"]["files"] += stats["files"]
            result["verified"]["bytes"] += stats["bytes"]
            result["verified"]["artifacts"].extend(dict(a, component=comp["name"]) for a in stats["artifacts"])
            item["tree"] = tree
            item["inventory"] = inventory
        # Everything verified and unpacked: move versions into place (current untouched so far).
        for comp, item in zip(components, plan):
            if item["action"] != "install":
                continue
            name, version = comp["name"], comp["version"]
            cdir = destination.component_dir(name)
            vdir = destination.version_dir(name, version)
            try:
                if not os.path.isdir(cdir):
                    os.mkdir(cdir, 0o755)
                if os.path.lexists(vdir):
                    # A damaged or different copy of this version: replace it (it is not current or it failed verification).
                    aside = os.path.join(os.path.dirname(item["tree"]), "old")
                    os.rename(vdir, aside)
                    old_record = destination.record_path(name, version)
                    record_aside = None
                    if os.path.exists(old_record):
                        record_aside = os.path.join(os.path.dirname(item["tree"]), "old.json")
                        shutil.copy2(old_record, record_aside)
                    replaced.append((name, version, aside, record_aside))
                os.rename(item["tree"], vdir)
                fsync_dir(cdir)
                created.append((name, version))
                record_dir = os.path.dirname(destination.record_path(name, version))
                if not os.path.isdir(record_dir):
                    os.makedirs(record_dir, 0o755)
                _write_json_atomic(destination.record_path(name, version), {
                    "name": name,
                    "version": version,
                    "kind": comp.get("kind"),
                    "release": release,
                    "requires": comp.get("requires") or {},
                    "artifacts": [dict((k, v) for k, v in a.items() if k != "src") for a in comp["artifacts"]],
                    "inventory": item.pop("inventory"),
                    "installed_at": now if now is not None else time.time(),
                })
            except OSError as exc:
                raise storage_error(exc, "moving the verified release into place", component=name)
        for comp, item in zip(components, plan):
            item.pop("tree", None)
            if item["action"] in ("install", "switch"):
                previous = destination.current_version(comp["name"])
                try:
                    if destination.switch_current(comp["name"], comp["version"]):
                        switched.append((comp["name"], previous))
                except OSError as exc:
                    raise storage_error(exc, "switching 'current'", component=comp["name"])
        new_state = dict(state)
        new_state["format"] = STATE_FORMAT
        new_state["release"] = release
        if record_highest_release is not None:
            new_state["highest_release"] = record_highest_release
        elif not new_state.get("highest_release"):
            new_state["highest_release"] = release
        new_state["components"] = dict((c["name"], c["version"]) for c in components)
        try:
            destination.write_state(new_state)
        except OSError as exc:
            raise storage_error(exc, "writing the destination state", file=os.path.join(destination.meta, STATE_FILE))
        # Committed: from here on nothing is undone.
        created = []
        replaced = []
        switched = []
        for comp in components:
            try:
                pruned = destination.prune(comp["name"], keep)
            except OSError as exc:
                result.setdefault("warnings", []).append(
                    "could not prune old versions of %s under %s: %s" % (comp["name"], destination.path, exc))
                continue
            if pruned:
                result["pruned"][comp["name"]] = pruned
        for staging in staged:
            shutil.rmtree(staging, ignore_errors=True)
    finally:
        # On failure: put back the current links this run moved, remove the versions it created, restore
        # the copies it replaced, and clear staging.
        for name, previous in reversed(switched):
            try:
                if previous:
                    destination.switch_current(name, previous)
                elif os.path.lexists(destination.current_link(name)):
                    os.unlink(destination.current_link(name))
            except OSError:
                pass
        for name, version in created:
            shutil.rmtree(destination.version_dir(name, version), ignore_errors=True)
            if os.path.exists(destination.record_path(name, version)):
                os.unlink(destination.record_path(name, version))
        for name, version, aside, record_aside in replaced:
            # The copy this run replaced goes back, with the record that describes it.
            vdir = destination.version_dir(name, version)
            try:
                if not os.path.lexists(vdir) and os.path.isdir(aside):
                    os.rename(aside, vdir)
                    if record_aside and os.path.isfile(record_aside):
                        os.replace(record_aside, destination.record_path(name, version))
            except OSError:
                pass
        staging_root = os.path.join(destination.meta, "staging")
        if os.path.isdir(staging_root):
            for entry in os.listdir(staging_root):
                shutil.rmtree(os.path.join(staging_root, entry), ignore_errors=True)
        destination.unlock()
    return result
