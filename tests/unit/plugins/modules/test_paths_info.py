# -*- coding: utf-8 -*-
# Copyright: groundwork.infra contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""groundwork.infra.paths_info on real files: the module runs in-process as Ansible runs it
(argument spec, exit_json/fail_json output), on a temporary tree of every kind of path."""

from __future__ import annotations

import errno
import grp
import hashlib
import json
import os
import pwd
import signal
import stat

import pytest
import yaml

from ansible.module_utils.testing import patch_module_args
from ansible.plugins.filter.core import get_hash
from ansible.utils.hashing import checksum_s

from ansible_collections.groundwork.infra.plugins.modules import paths_info

USER = pwd.getpwuid(os.getuid()).pw_name
GROUP = grp.getgrgid(os.getgid()).gr_name
CONTENT = "# Managed by groundwork.infra\nkey=value\n"
SHA1 = hashlib.sha1(CONTENT.encode()).hexdigest()
STATE_KEYS = ["as_wanted", "checksum", "differences", "exists", "group", "mode", "owner", "size", "type"]


def _blocked(signum, frame):  # pylint: disable=unused-argument
    raise AssertionError("paths_info did not return within 10 s (did it open a FIFO?)")


def run(capsys, paths, check_mode=False):
    """Run the module as Ansible would; return its JSON result (failed or not)."""
    args = {"paths": paths}
    if check_mode:
        args["_ansible_check_mode"] = True
    previous = signal.signal(signal.SIGALRM, _blocked)
    signal.alarm(10)
    try:
        with patch_module_args(args):
            with pytest.raises(SystemExit):
                paths_info.main()
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    return json.loads(capsys.readouterr().out)


def write(path, content=CONTENT, mode=0o644):
    path.write_text(content, encoding="utf-8")
    os.chmod(str(path), mode)
    return str(path)


@pytest.fixture
def tree(tmp_path):
    """A directory (0750), a file (0640), a link to the file, a dangling link and a FIFO."""
    base = tmp_path / "tree"
    base.mkdir()
    os.chmod(str(base), 0o750)
    write(base / "file.conf", mode=0o640)
    os.symlink("file.conf", str(base / "link"))
    os.symlink("nowhere", str(base / "dangling"))
    os.mkfifo(str(base / "fifo"))
    return base


def snapshot(root):
    """Everything a change would touch: metadata (times included) and content of every path under root."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(str(root)):
        for name in [""] + dirnames + filenames:
            path = os.path.join(dirpath, name) if name else dirpath
            st = os.lstat(path)
            entry = (st.st_mode, st.st_uid, st.st_gid, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_atime_ns,
                     st.st_ino, st.st_nlink)
            if stat.S_ISREG(st.st_mode):
                # Read without moving the access time, which the comparison includes.
                fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOATIME", 0))
                try:
                    entry += (os.read(fd, st.st_size + 1),)
                finally:
                    os.close(fd)
            elif stat.S_ISLNK(st.st_mode):
                entry += (os.readlink(path),)
            out[path] = entry
    return out


# ---- each type -------------------------------------------------------------------------------------


def test_a_regular_file_as_wanted(capsys, tree):
    path = str(tree / "file.conf")
    result = run(capsys, [{"path": path, "type": "file", "mode": "0640", "owner": USER, "group": GROUP, "checksum": SHA1}])
    assert result["changed"] is False
    assert result["differ"] == [] and result["problems"] == []
    assert result["paths"][path] == {
        "exists": True, "type": "file", "mode": "0640", "owner": USER, "group": GROUP, "size": len(CONTENT),
        "checksum": SHA1, "as_wanted": True, "differences": []}


def test_a_directory(capsys, tree):
    result = run(capsys, [{"path": str(tree), "type": "directory", "mode": "0750", "owner": USER, "group": GROUP}])
    state = result["paths"][str(tree)]
    assert (state["type"], state["mode"], state["checksum"], state["as_wanted"]) == ("directory", "0750", None, True)
    assert result["differ"] == []


def test_a_directory_is_not_a_file(capsys, tree):
    result = run(capsys, [{"path": str(tree), "type": "file"}])
    assert result["differ"] == [str(tree)]
    assert result["paths"][str(tree)]["differences"] == ["type"]


def test_a_symlink_is_not_followed(capsys, tree):
    link = str(tree / "link")
    # The target is as wanted; the link itself is not a regular file with that content.
    result = run(capsys, [{"path": link, "type": "file", "checksum": SHA1}])
    state = result["paths"][link]
    assert (state["type"], state["checksum"], state["size"]) == ("link", None, len("file.conf"))
    assert state["differences"] == ["type", "checksum"]
    assert result["differ"] == [link]


def test_a_symlink_wanted_as_a_link(capsys, tree):
    link, dangling = str(tree / "link"), str(tree / "dangling")
    result = run(capsys, [{"path": link, "type": "link", "owner": USER}, {"path": dangling, "type": "link"}])
    assert result["differ"] == []
    assert result["paths"][dangling]["exists"] is True
    assert result["paths"][dangling]["type"] == "link"


def test_a_fifo_is_other_and_is_not_read(capsys, tree):
    # Opening the FIFO for reading would block until a writer comes (run() gives up after 10 s).
    fifo = str(tree / "fifo")
    result = run(capsys, [{"path": fifo, "type": "file"}, {"path": str(tree / "file.conf"), "type": "file"}])
    assert result["paths"][fifo]["type"] == "other"
    assert result["paths"][fifo]["checksum"] is None
    assert result["differ"] == [fifo]


# ---- absent paths ----------------------------------------------------------------------------------


def test_an_absent_path_wanted_absent(capsys, tree):
    missing = str(tree / "missing.conf")
    result = run(capsys, [{"path": missing, "type": "absent"}])
    assert result["paths"][missing] == {
        "exists": False, "type": "absent", "mode": None, "owner": None, "group": None, "size": None, "checksum": None,
        "as_wanted": True, "differences": []}
    assert result["differ"] == []


def test_a_present_path_wanted_absent(capsys, tree):
    path = str(tree / "file.conf")
    result = run(capsys, [{"path": path, "type": "absent"}])
    assert result["differ"] == [path]
    assert result["paths"][path]["differences"] == ["type"]


def test_an_absent_path_without_type_absent(capsys, tree):
    missing = str(tree / "missing.conf")
    result = run(capsys, [{"path": missing, "mode": "0644", "owner": USER, "checksum": SHA1}])
    assert result["differ"] == [missing]
    assert result["paths"][missing]["exists"] is False
    assert result["paths"][missing]["differences"] == ["mode", "owner", "checksum"]


def test_an_absent_path_wanted_as_a_file(capsys, tree):
    missing = str(tree / "missing.conf")
    result = run(capsys, [{"path": missing, "type": "file"}])
    assert result["differ"] == [missing] and result["paths"][missing]["differences"] == ["type"]


def test_an_absent_path_with_nothing_wanted_is_as_wanted(capsys, tree):
    missing = str(tree / "missing.conf")
    result = run(capsys, [{"path": missing}])
    assert result["paths"][missing]["as_wanted"] is True
    assert result["differ"] == []


def test_a_path_below_a_regular_file_is_absent(capsys, tree):
    below = str(tree / "file.conf" / "child")
    result = run(capsys, [{"path": below, "type": "absent"}])
    assert result["paths"][below]["type"] == "absent"
    assert result["differ"] == [] and result["problems"] == []


# ---- mismatches ------------------------------------------------------------------------------------


def test_a_mode_mismatch(capsys, tree):
    path = str(tree / "file.conf")
    result = run(capsys, [{"path": path, "type": "file", "mode": "0600", "checksum": SHA1}])
    assert result["paths"][path]["mode"] == "0640"
    assert result["paths"][path]["differences"] == ["mode"]
    assert result["differ"] == [path]


@pytest.mark.parametrize("actual, wanted, as_wanted", [
    (0o1777, "1777", True), (0o1777, "0777", False), (0o4755, "4755", True), (0o4755, "04755", True),
    (0o4755, "0755", False), (0o0755, "755", True), (0o2750, "0750", False),
])
def test_special_bits_are_compared(capsys, tmp_path, actual, wanted, as_wanted):
    path = tmp_path / "d"
    path.mkdir()
    os.chmod(str(path), actual)
    result = run(capsys, [{"path": str(path), "mode": wanted}])
    assert result["paths"][str(path)]["mode"] == "%04o" % actual
    assert result["paths"][str(path)]["as_wanted"] is as_wanted


def test_an_owner_mismatch_and_a_numeric_owner(capsys, tree):
    path = str(tree / "file.conf")
    result = run(capsys, [{"path": path, "owner": "groundwork-no-such-user"}])
    assert result["paths"][path]["owner"] == USER
    assert result["paths"][path]["differences"] == ["owner"]
    assert run(capsys, [{"path": path, "owner": str(os.getuid())}])["differ"] == []


def test_a_group_mismatch_and_a_numeric_group(capsys, tree):
    path = str(tree / "file.conf")
    result = run(capsys, [{"path": path, "group": "groundwork-no-such-group"}])
    assert result["paths"][path]["group"] == GROUP
    assert result["paths"][path]["differences"] == ["group"]
    assert run(capsys, [{"path": path, "group": str(os.getgid())}])["differ"] == []


def test_an_owner_without_a_name_is_its_number(capsys, tmp_path):
    if os.geteuid() != 0:
        pytest.skip("giving a file to an unknown user needs root")
    unknown = next(uid for uid in range(64000, 65000) if not _has_user(uid))
    path = write(tmp_path / "f")
    os.chown(path, unknown, unknown)
    state = run(capsys, [{"path": path, "owner": str(unknown)}])["paths"][path]
    assert (state["owner"], state["as_wanted"]) == (str(unknown), True)


def _has_user(uid):
    try:
        pwd.getpwuid(uid)
        return True
    except KeyError:
        return False


def test_a_checksum_mismatch(capsys, tree):
    path = write(tree / "file.conf", content=CONTENT + "changed=1\n", mode=0o640)
    result = run(capsys, [{"path": path, "type": "file", "mode": "0640", "checksum": SHA1}])
    assert result["paths"][path]["checksum"] == hashlib.sha1((CONTENT + "changed=1\n").encode()).hexdigest()
    assert result["paths"][path]["differences"] == ["checksum"]
    assert result["differ"] == [path]


def test_a_checksum_in_upper_case_matches(capsys, tree):
    path = str(tree / "file.conf")
    assert run(capsys, [{"path": path, "checksum": SHA1.upper()}])["differ"] == []


def test_the_checksum_is_what_copy_and_the_hash_filter_compute(capsys, tmp_path):
    content = "caf\u00e9 = \"cr\u00e8me\"\n" * 1000  # not ASCII, and more than one read
    path = write(tmp_path / "f.env", content=content)
    state = run(capsys, [{"path": path, "checksum": get_hash(content, "sha1")}])["paths"][path]
    assert state["as_wanted"] is True
    assert state["checksum"] == checksum_s(content) == get_hash(content, "sha1")


def test_an_empty_file(capsys, tmp_path):
    path = write(tmp_path / "empty", content="")
    state = run(capsys, [{"path": path, "type": "file", "checksum": hashlib.sha1(b"").hexdigest()}])["paths"][path]
    assert (state["size"], state["as_wanted"]) == (0, True)


def test_differ_keeps_the_order_given(capsys, tmp_path):
    names = ["zeta", "alpha", "mid", "beta"]
    for name in names:
        write(tmp_path / name, mode=0o644)
    os.chmod(str(tmp_path / "mid"), 0o600)
    result = run(capsys, [{"path": str(tmp_path / n), "mode": "0600"} for n in names])
    assert result["differ"] == [str(tmp_path / n) for n in ["zeta", "alpha", "beta"]]
    assert list(result["paths"]) == [str(tmp_path / n) for n in names]


# ---- what cannot be read ---------------------------------------------------------------------------


def refusing(path, real):
    """``real`` (os.open, os.lstat), except that it is refused with EACCES for ``path``."""
    def call(name, *args, **kwargs):
        if name == path:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), name)
        return real(name, *args, **kwargs)
    return call


def test_unreadable_content_is_not_as_wanted(capsys, monkeypatch, tree):
    path = str(tree / "file.conf")
    monkeypatch.setattr(paths_info.os, "open", refusing(path, os.open))
    result = run(capsys, [{"path": path, "type": "file", "mode": "0640"}, {"path": str(tree), "type": "directory"}])
    state = result["paths"][path]
    assert (state["exists"], state["type"], state["mode"], state["checksum"]) == (True, "file", "0640", None)
    assert state["as_wanted"] is False and state["differences"] == []
    assert result["differ"] == [path]
    assert result["problems"] == ["%s: cannot read the content: Permission denied" % path]


def test_a_file_replaced_while_examined_is_not_as_wanted(capsys, monkeypatch, tree):
    path = str(tree / "file.conf")
    other = write(tree / "other.conf")
    real_open = os.open
    monkeypatch.setattr(paths_info.os, "open", lambda name, *a, **k: real_open(other if name == path else name, *a, **k))
    result = run(capsys, [{"path": path, "checksum": SHA1}])
    assert result["paths"][path]["checksum"] is None
    assert result["differ"] == [path]
    assert "replaced while it was examined" in result["problems"][0]


def test_a_path_that_cannot_be_examined(capsys, monkeypatch, tree):
    path = str(tree / "file.conf")
    monkeypatch.setattr(paths_info.os, "lstat", refusing(path, os.lstat))
    result = run(capsys, [{"path": path}])
    assert (result["paths"][path]["exists"], result["paths"][path]["type"]) == (None, None)
    assert result["differ"] == [path]
    assert result["problems"] == ["%s: cannot examine it: Permission denied" % path]


# ---- bad input -------------------------------------------------------------------------------------


@pytest.mark.parametrize("entry, field, words", [
    ({"type": "dir"}, "type", "must be one of file, directory, link, absent"),
    ({"mode": "rw-r--r--"}, "mode", "octal string"),
    ({"mode": "0648"}, "mode", "octal string"),
    ({"mode": "17777"}, "mode", "at most 7777"),
    ({"mode": 420}, "mode", "quoted octal string"),
    ({"mode": True}, "mode", "quoted octal string"),
    ({"checksum": "abc"}, "checksum", "40 hexadecimal digits"),
    ({"checksum": SHA1 + "0"}, "checksum", "40 hexadecimal digits"),
    ({"checksum": "g" * 40}, "checksum", "40 hexadecimal digits"),
    ({"checksum": SHA1, "type": "directory"}, "checksum", "for a regular file"),
    ({"type": "absent", "mode": "0644"}, "mode", "type absent"),
    ({"type": "absent", "owner": "root"}, "owner", "type absent"),
    ({"owner": ""}, "owner", "must not be empty"),
], ids=lambda v: v if isinstance(v, str) else None)
def test_bad_input_names_the_path_and_the_field(capsys, tree, entry, field, words):
    path = str(tree / "file.conf")
    good = {"path": str(tree), "type": "directory"}
    result = run(capsys, [good, dict(entry, path=path)])
    assert result["failed"] is True
    assert result["msg"].startswith("paths_info: %s: %s " % (path, field)), result["msg"]
    assert words in result["msg"]
    assert (result["path"], result["field"]) == (path, field)
    assert "paths" not in result


def test_a_relative_path_is_refused(capsys):
    result = run(capsys, [{"path": "etc/docker"}])
    assert result["failed"] is True
    assert result["msg"] == "paths_info: etc/docker: path must be an absolute path"


def test_a_path_listed_twice_is_refused(capsys, tree):
    result = run(capsys, [{"path": str(tree)}, {"path": str(tree), "type": "directory"}])
    assert result["failed"] is True
    assert result["msg"] == "paths_info: %s: path is listed more than once" % tree


def test_an_unknown_field_is_refused_by_the_argument_spec(capsys, tree):
    result = run(capsys, [{"path": str(tree), "state": "directory"}])
    assert result["failed"] is True
    assert "state" in result["msg"]


# ---- read-only -------------------------------------------------------------------------------------


@pytest.mark.parametrize("check_mode", [False, True], ids=["run", "check_mode"])
def test_nothing_on_disk_changes(capsys, tree, check_mode):
    # Access times older than the modification: a plain read would move them (relatime).
    for name in ("file.conf", "other.conf"):
        path = write(tree / name, mode=0o640)
        st = os.stat(path)
        os.utime(path, ns=(st.st_mtime_ns - 10 ** 12, st.st_mtime_ns))
    before = snapshot(tree.parent)
    entries = [{"path": str(tree / n)} for n in ("file.conf", "other.conf", "link", "dangling", "fifo", "missing")]
    entries += [{"path": str(tree), "type": "file", "mode": "0700", "checksum": SHA1},
                {"path": str(tree / "x" / "y"), "type": "directory"}]
    result = run(capsys, entries, check_mode=check_mode)
    assert result["changed"] is False
    assert result["differ"] == [str(tree), str(tree / "x" / "y")]
    assert snapshot(tree.parent) == before


# ---- documentation ---------------------------------------------------------------------------------


def test_documentation_matches_the_argument_spec():
    doc = yaml.safe_load(paths_info.DOCUMENTATION)
    assert "groundwork.infra.attributes.info_module" in doc["extends_documentation_fragment"]  # check_mode: full

    def compare(documented, spec, where):
        assert sorted(documented) == sorted(spec), where
        for name, arg in spec.items():
            entry = documented[name]
            assert entry.get("description"), "%s.%s has no description" % (where, name)
            assert entry.get("type", "str") == arg.get("type", "str"), (where, name)
            assert bool(entry.get("required", False)) == bool(arg.get("required", False)), (where, name)
            assert entry.get("elements") == arg.get("elements"), (where, name)
            assert entry.get("choices") == arg.get("choices"), (where, name)
            assert entry.get("default") == arg.get("default"), (where, name)
            if "options" in arg:
                compare(entry["suboptions"], arg["options"], "%s.%s" % (where, name))

    compare(doc["options"], paths_info.ARGUMENT_SPEC, "options")
    assert set(paths_info.FIELDS) == set(paths_info.ARGUMENT_SPEC["paths"]["options"]) - {"path"}


def test_return_documents_what_the_module_returns(capsys, tree):
    returned = yaml.safe_load(paths_info.RETURN)
    result = run(capsys, [{"path": str(tree / "file.conf"), "checksum": SHA1}])
    assert sorted(returned) == sorted(k for k in result if k not in ("changed", "invocation"))
    assert sorted(returned["paths"]["contains"]) == STATE_KEYS
    assert sorted(result["paths"][str(tree / "file.conf")]) == STATE_KEYS
    for sample in returned["paths"]["sample"].values():
        assert sorted(sample) == STATE_KEYS
