# -*- coding: utf-8 -*-
# Copyright: groundwork.infra contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private to groundwork.infra: safe tar scanning/extraction and reproducible builds. Runs on managed hosts: standard library only."""

from __future__ import annotations

import errno
import gzip
import hashlib
import json
import os
import shutil
import queue
import stat
import tarfile
import tempfile
import zlib
from collections import deque
from contextlib import contextmanager

from ansible_collections.groundwork.infra.plugins.module_utils._bundle_errors import NO_SPACE_ERRNOS, ArchiveError, storage_error
from ansible_collections.groundwork.infra.plugins.module_utils._bundle_hash import (
    BLOCK_SIZE,
    PIPELINE_BUFFERS,
    PIPELINE_MIN_SIZE,
    WRITE_BEHIND_STEP,
    HashWorker,
    WriteBehind,
    hash_file,
    sync_tree,
)

try:  # Optional in some Python builds.
    import bz2
except ImportError:  # pragma: no cover
    bz2 = None
try:
    import lzma
except ImportError:  # pragma: no cover
    lzma = None

# The longest single read tarfile may make on our stream: file data is read in
# BLOCK_SIZE chunks, headers in 512-byte blocks; only a hostile PAX or GNU long
# name header asks for more (tarfile would load it whole into memory).
MAX_METADATA_READ = max(BLOCK_SIZE, 1024 * 1024)
MAX_SYMLINK_HOPS = 40
MAX_COMPONENT_BYTES = 255
# Linux PATH_MAX is 4096 bytes with the final NUL: a longer name cannot be created anywhere (threat 25).
MAX_PATH_BYTES = 4095
CHAINED_HEADERS = ("not a readable tar archive: too many chained extended headers (PAX or GNU long name/link) "
                   "before one member")

_KIND_BY_TYPE = {
    tarfile.REGTYPE: "file",
    tarfile.AREGTYPE: "file",
    tarfile.DIRTYPE: "dir",
    tarfile.SYMTYPE: "symlink",
    tarfile.LNKTYPE: "hardlink",
}
_TYPE_NAMES = {
    tarfile.CHRTYPE: "character device",
    tarfile.BLKTYPE: "block device",
    tarfile.FIFOTYPE: "FIFO",
    tarfile.CONTTYPE: "contiguous file",
    tarfile.GNUTYPE_SPARSE: "sparse file",
}
_COMPRESSIONS = ("gz", "xz", "none")

_READ_ERRORS = (tarfile.TarError, EOFError, OSError, zlib.error, ValueError) + ((lzma.LZMAError,) if lzma is not None else ())


class Limits:
    """Caps for one archive: member count, total content bytes and name length."""

    __slots__ = ("max_members", "max_bytes", "max_name_length")

    def __init__(self, max_members=50000, max_bytes=8 * 1024 ** 3, max_name_length=4096):
        for name, value in (("max_members", max_members), ("max_bytes", max_bytes), ("max_name_length", max_name_length)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError("%s must be a non-negative integer, got %r" % (name, value))
        self.max_members = max_members
        self.max_bytes = max_bytes
        self.max_name_length = max_name_length

    def __repr__(self):
        return "Limits(max_members=%d, max_bytes=%d, max_name_length=%d)" % (self.max_members, self.max_bytes, self.max_name_length)


class _Unsafe(Exception):
    """Internal: a rule was broken; the caller adds member and file context."""


def _show(text, limit=200):
    """A member name fit for a one-line message: escaped and at most ``limit`` characters."""
    if not (isinstance(text, str) and text.isprintable()):
        text = repr(text)[1:-1]
    if len(text) > limit:
        return "%s...(%d characters)" % (text[:limit], len(text))
    return text


def _check_text(text, what, max_length):
    if not isinstance(text, str) or text == "":
        raise _Unsafe("empty %s" % what)
    if len(text) > max_length:
        raise _Unsafe("%s longer than %d characters (max_name_length)" % (what, max_length))
    if text.isascii() and text.isprintable():
        # The common case, without a loop over the characters: printable ASCII has no NUL,
        # control or C1 character and is valid UTF-8; only the backslash is left to refuse.
        if "\\" in text:
            raise _Unsafe("backslash in %s" % what)
        return
    if "\x00" in text:
        raise _Unsafe("NUL byte in %s" % what)
    if any(ord(char) < 32 or ord(char) == 127 for char in text):
        raise _Unsafe("control character in %s" % what)
    if "\\" in text:
        raise _Unsafe("backslash in %s" % what)
    try:
        text.encode("utf-8")
    except UnicodeError:
        raise _Unsafe("%s is not valid UTF-8" % what) from None
    _check_printable(text, what)


def _check_printable(text, what):
    """Threat 22: C1 controls (U+0080-U+009F) and other non-printable characters (format, line and
    paragraph separators, unassigned) have no place in a file name; a plain space is allowed."""
    for char in text:
        if char != " " and not char.isprintable():
            kind = "C1 control character" if 0x80 <= ord(char) <= 0x9F else "non-printable character"
            raise _Unsafe("%s U+%04X in %s" % (kind, ord(char), what))


def _split_path(text, what, max_length):
    """Normalise an archive path to a tuple of components, or raise _Unsafe."""
    _check_text(text, what, max_length)
    if text.startswith("/"):
        raise _Unsafe("absolute path in %s" % what)
    parts = tuple(part for part in text.split("/") if part not in ("", "."))
    if ".." in parts:
        raise _Unsafe("'..' component in %s" % what)
    for part in parts:
        if len(part.encode("utf-8")) > MAX_COMPONENT_BYTES:
            raise _Unsafe("path component longer than %d bytes in %s" % (MAX_COMPONENT_BYTES, what))
    if len("/".join(parts).encode("utf-8")) > MAX_PATH_BYTES:
        raise _Unsafe("%s longer than %d bytes, more than a filesystem path can hold" % (what, MAX_PATH_BYTES))
    return parts


def _resolve_link(link_parts, target, links):
    """Resolve a symlink like the kernel would, inside the archive root.

    ``links`` maps component tuples to symlink targets. Returns the resolved
    component tuple; raises _Unsafe if any step leaves the root.
    """
    if target.startswith("/"):
        raise _Unsafe("symlink target '%s' is absolute" % _show(target))
    parts = list(link_parts[:-1])
    pending = deque(target.split("/"))
    hops = 0
    while pending:
        part = pending.popleft()
        if part in ("", "."):
            continue
        if part == "..":
            if not parts:
                raise _Unsafe("symlink target '%s' resolves outside the archive root" % _show(target))
            parts.pop()
            continue
        parts.append(part)
        key = tuple(parts)
        if key in links:
            hops += 1
            if hops > MAX_SYMLINK_HOPS:
                raise _Unsafe("symlink target '%s' loops (more than %d links)" % (_show(target), MAX_SYMLINK_HOPS))
            parts.pop()
            next_target = links[key]
            if next_target.startswith("/"):
                raise _Unsafe("symlink target '%s' passes through an absolute symlink" % _show(target))
            pending.extendleft(reversed(next_target.split("/")))
    return tuple(parts)


class _BoundedStream:
    """File-object wrapper that refuses oversized single reads (metadata bombs).

    ``plain``: the archive file itself when it is not compressed, so that member data
    can be read straight from it at the offsets tarfile found (_PlainCopier).
    """

    def __init__(self, stream, plain=None):
        self._stream = stream
        self.plain = plain

    def read(self, size=-1):
        if size is None or size < 0 or size > MAX_METADATA_READ:
            raise _Unsafe("a header asks for %s bytes at once (more than %d)" % (size, MAX_METADATA_READ))
        return self._stream.read(size)

    def read_some(self, size):
        """Up to ``size`` bytes of member data (BLOCK_SIZE at most), as the stream gives them."""
        some = getattr(self._stream, "read_some", None)
        return some(size) if some is not None else self.read(size)

    def seek(self, pos, whence=0):
        return self._stream.seek(pos, whence)

    def tell(self):
        return self._stream.tell()

    @staticmethod
    def readable():
        return True

    @staticmethod
    def seekable():
        return True


# Compressed input is read from the archive file in pieces of INFLATE_READ bytes and
# given to the decompressor INFLATE_FEED bytes at a time; each decompress call asks
# for at least INFLATE_OUT bytes of output (at most what is wanted, or that).
INFLATE_READ = BLOCK_SIZE
INFLATE_FEED = 128 * 1024
INFLATE_OUT = 256 * 1024
# How far back a seek may go (tarfile reads the byte before its end offset to detect truncation).
INFLATE_KEEP = 2 * tarfile.BLOCKSIZE


class _Inflate:
    """A gzip or xz stream decompressed with large reads, for tarfile and the member copy.

    gzip.GzipFile and lzma.LZMAFile read the compressed file 8 KiB at a time and, on
    incompressible data, return about that much per call; this reads INFLATE_READ at
    a time and returns exactly what is asked for. Each decompress call is capped at
    the bytes wanted, so a small archive cannot expand into a big buffer. Only what
    one forward pass needs: read, tell, seek forward (decompress and drop) or back by
    at most INFLATE_KEEP bytes. The gzip trailers (CRC-32, length) and the xz checks
    are verified by zlib and lzma; concatenated gzip members and xz streams are read
    like gzip and xz do, zero padding after them is skipped.
    """

    def __init__(self, raw, kind):
        self._raw = raw
        self._kind = kind
        self._dec = self._decompressor()
        self._input = memoryview(b"")  # compressed bytes read but not yet given to the decompressor
        self._tail = b""  # what zlib left of the last piece given to it
        self._buf = b""
        self._start = 0  # stream position of self._buf[0]
        self._off = 0  # read position in self._buf
        self._end = False

    def _decompressor(self):
        if self._kind == "gz":
            return zlib.decompressobj(16 + zlib.MAX_WBITS)
        return lzma.LZMADecompressor(format=lzma.FORMAT_XZ)

    def _next_stream(self):
        """After the end of one gzip member or xz stream: start the next one. False at the end of the data."""
        rest = self._dec.unused_data + self._input.tobytes()
        self._input = memoryview(b"")
        while True:
            rest = rest.lstrip(b"\x00")
            if rest:
                break
            rest = self._raw.read(INFLATE_READ)
            if not rest:
                self._end = True
                return False
        self._dec = self._decompressor()
        self._input = memoryview(rest)
        return True

    def _piece(self):
        """The next compressed bytes for the decompressor; b"" at the end of the file."""
        if self._tail:
            piece, self._tail = self._tail, b""
            return piece
        if not len(self._input):
            self._input = memoryview(self._raw.read(INFLATE_READ))
        piece, self._input = self._input[:INFLATE_FEED], self._input[INFLATE_FEED:]
        return piece

    def _produce(self, want):
        """Up to ``want`` new bytes of decompressed data; b"" at the end of the data."""
        while not self._end:
            dec = self._dec
            if dec.eof:
                if self._kind == "gz" and self._tail:
                    self._input = memoryview(self._tail + self._input.tobytes())
                    self._tail = b""
                if not self._next_stream():
                    break
                continue
            if self._kind == "xz" and not dec.needs_input:
                piece = b""
            else:
                piece = self._piece()
                if not len(piece):
                    out = dec.decompress(b"", want)  # output the decompressor still holds back, if any
                    if out:
                        return out
                    if not dec.eof:
                        raise EOFError("compressed data ends before the end-of-stream marker")
                    continue
            out = dec.decompress(piece, want)
            if self._kind == "gz":
                self._tail = dec.unconsumed_tail
            if out:
                return out
        return b""

    def read(self, size):
        end = self._off + size
        if end <= len(self._buf):
            self._off = end
            return self._buf[end - size:end]
        parts = [self._buf[self._off:]]
        got = len(parts[0])
        while got < size:
            chunk = self._produce(max(size - got, INFLATE_OUT))
            if not chunk:
                break
            parts.append(chunk)
            got += len(chunk)
        data = b"".join(parts) if len(parts) > 1 else parts[0]
        take = min(size, len(data))
        result = data[:take] if take < len(data) else data
        back = self._buf[max(self._off - INFLATE_KEEP, 0):self._off] if take < INFLATE_KEEP else b""
        self._start += self._off - len(back)
        self._buf = back + data if back else data
        self._off = len(back) + take
        return result

    def read_some(self, size):
        """Up to ``size`` bytes, at least one unless at the end: what is buffered, else the next
        piece the decompressor gives, as it is (no joining of pieces, no copy)."""
        have = len(self._buf) - self._off
        if have:
            take = min(have, size)
            self._off += take
            return self._buf[self._off - take:self._off] if (take < len(self._buf) or self._off != take) else self._buf
        chunk = self._produce(size)
        if chunk:
            # The chunk becomes the buffer, read to its end: a seek back stays possible within it.
            self._start += len(self._buf)
            self._buf = chunk
            self._off = len(chunk)
        return chunk

    def tell(self):
        return self._start + self._off

    def seek(self, pos, whence=0):
        if whence == 1:
            pos += self.tell()
        elif whence != 0:
            raise OSError(errno.EINVAL, "a compressed archive is read forward only")
        if pos < self._start:
            raise OSError(errno.EINVAL, "a compressed archive is read forward only (seek back to %d from %d)" % (pos, self.tell()))
        if pos <= self._start + len(self._buf):
            self._off = pos - self._start
            return pos
        while self.tell() < pos:
            if not self.read(min(pos - self.tell(), INFLATE_READ)):
                break
        return self.tell()

    def close(self):
        self._buf = self._tail = b""
        self._input = memoryview(b"")


@contextmanager
def _open_tar(path, component, file, fileobj=None):
    """Open a plain, gzip, bzip2 or xz tar file for reading; always closes everything it opened.

    With ``fileobj`` (an open binary file at ``path``) that handle is read from offset 0 and left open.
    """
    handles = []
    try:
        try:
            if fileobj is None:
                raw = open(path, "rb")
                handles.append(raw)
            else:
                raw = fileobj
                raw.seek(0)
            magic = raw.read(6)
            raw.seek(0)
            if magic[:2] == b"\x1f\x8b":
                stream = _Inflate(raw, "gz")
            elif magic[:3] == b"BZh":
                if bz2 is None:
                    raise ArchiveError("bzip2 archives are not supported by this Python", component=component, file=file)
                stream = bz2.BZ2File(raw, "rb")
            elif magic == b"\xfd7zXZ\x00":
                if lzma is None:
                    raise ArchiveError("xz archives are not supported by this Python", component=component, file=file)
                stream = _Inflate(raw, "xz")
            else:
                stream = raw
            if stream is not raw:
                handles.append(stream)
            bounded = _BoundedStream(stream, plain=raw if stream is raw else None)
            tar = tarfile.open(fileobj=bounded, mode="r:", encoding="utf-8", errors="surrogateescape")
        except _Unsafe as exc:
            raise ArchiveError("not a readable tar archive: %s" % exc, component=component, file=file) from None
        except _READ_ERRORS as exc:
            raise ArchiveError("not a readable tar archive: %s" % (exc or type(exc).__name__), component=component, file=file) from None
        handles.append(tar)
        yield tar, bounded
    finally:
        for handle in reversed(handles):
            try:
                handle.close()
            except Exception:  # pylint: disable=broad-except
                pass


def _plan(member, kind, parts, mode, linkname):
    mtime = member.mtime
    try:
        mtime = int(mtime)
    except (TypeError, ValueError, OverflowError):
        mtime = 0
    if not 0 <= mtime < 2 ** 34:
        mtime = 0
    return {
        "name": "/".join(parts),
        "type": kind,
        "mode": mode,
        "size": member.size if kind == "file" else 0,
        "mtime": mtime,
        "linkname": linkname,
    }


def _safe_mode(kind, mode):
    """Modes written to disk: no special bits, no group/other write."""
    if kind == "dir":
        return (mode & 0o755) | 0o700
    if kind == "symlink":
        return 0o777
    return (mode & 0o755) | 0o600


_FILE, _HARDLINK, _SYMLINK, _DIR = 1, 2, 3, 4
_KIND_CODE = {"file": _FILE, "hardlink": _HARDLINK, "symlink": _SYMLINK, "dir": _DIR}
_KIND_MASK = 7
_IMPLIED = 8  # a directory implied by a deeper member


class _NameTable:
    """The names seen in one archive with their kind, in one flat buffer (threat 26).

    An open-addressing hash table in a bytearray: each slot holds the 16-byte keyed
    BLAKE2b digest of a name (UTF-8) and one byte of flags (a member kind from
    _KIND_CODE, _IMPLIED, or both for a directory named and implied), about 26 to 51
    bytes per name instead of a tuple of component strings and a dict entry (about
    400). The key is random per table, so nobody can prepare two names with one
    digest; and a collision could only make the scan refuse an archive (a second
    name found as a duplicate, a file or symlink found where a directory is
    implied, a hardlink to a file that is missing on disk), never accept one.
    """

    __slots__ = ("_key", "_slots", "_mask", "_count")
    _WIDTH = 17

    def __init__(self, capacity=1024):
        self._key = os.urandom(16)
        self._slots = bytearray(capacity * self._WIDTH)
        self._mask = capacity - 1
        self._count = 0

    def _digest(self, name):
        return hashlib.blake2b(name.encode("utf-8", "surrogateescape"), digest_size=16, key=self._key).digest()

    def _find(self, digest):
        """(offset of the slot holding ``digest`` or of the empty slot where it goes, its flags or 0)."""
        slots = self._slots
        width = self._WIDTH
        index = int.from_bytes(digest[:8], "little") & self._mask
        while True:
            at = index * width
            flags = slots[at + 16]
            if not flags or slots[at:at + 16] == digest:
                return at, flags
            index = (index + 1) & self._mask

    def get(self, name):
        """The flags of ``name``: 0 if it was never added."""
        return self._find(self._digest(name))[1]

    def add(self, name, flags):
        digest = self._digest(name)
        at, old = self._find(digest)
        if not old:
            if (self._count + 1) * 3 > (self._mask + 1) * 2:  # at most two thirds full
                self._grow()
                at, old = self._find(digest)
            self._slots[at:at + 16] = digest
            self._count += 1
        self._slots[at + 16] = old | flags

    def __len__(self):
        return self._count

    def _grow(self):
        old, width = self._slots, self._WIDTH
        self._slots = bytearray(len(old) * 2)
        self._mask = self._mask * 2 + 1
        for at in range(0, len(old), width):
            flags = old[at + 16]
            if flags:
                digest = bytes(old[at:at + 16])
                new_at = self._find(digest)[0]
                self._slots[new_at:new_at + 16] = digest
                self._slots[new_at + 16] = flags


def _scan(tar, bounded, limits, component, file):
    """Validate the members one by one: yield (plan, TarInfo) for each once it is judged, or raise ArchiveError.

    Writes nothing. A member is yielded only after every rule that its header and the
    members before it can decide has passed; the rules that need the whole archive (the
    final state of the symlinks, what follows the last member) are checked after the
    last member, so a consumer that writes while iterating must write into a private
    directory that it removes when this raises (extract_archive does).
    """
    names = _NameTable()  # every member's name and every directory implied by a deeper member
    checked_parent = None  # the parent of the last member taken: its ancestors passed and are implied directories
    links = {}  # parts -> symlink target
    hardlink_target = {}  # parts -> parts of the regular file it shares
    count = 0
    total = 0
    member = last = None

    def reject(member_name, rule):
        return ArchiveError("unsafe member '%s': %s" % (_show(member_name), rule), component=component, file=file)

    while True:
        try:
            member = tar.next()
        except _Unsafe as exc:
            raise ArchiveError("not a readable tar archive: %s" % exc, component=component, file=file) from None
        except _READ_ERRORS as exc:
            raise ArchiveError("not a readable tar archive: %s" % (exc or type(exc).__name__), component=component, file=file) from None
        if member is None:
            break
        last = member
        count += 1
        name = member.name
        if count > limits.max_members:
            raise reject(name, "more than %d members in the archive (max_members)" % limits.max_members)
        kind = _KIND_BY_TYPE.get(member.type)
        if kind is None:
            label = _TYPE_NAMES.get(member.type, "unknown member type %r" % member.type)
            raise reject(name, "%s is not allowed" % label)
        if getattr(member, "sparse", None) is not None:
            raise reject(name, "sparse file is not allowed")
        try:
            parts = _split_path(name, "name", limits.max_name_length)
        except _Unsafe as exc:
            raise reject(name, str(exc)) from None
        if not parts:
            if kind == "dir":
                continue  # "./": the archive root itself, which is the target directory
            raise reject(name, "empty name")
        if name.endswith("/") and kind != "dir":
            raise reject(name, "name ends with '/' but the member is not a directory")
        if member.mode & 0o7000:
            raise reject(name, "setuid/setgid/sticky bits are not allowed (mode %04o)" % member.mode)
        if kind == "file":
            if member.size < 0:
                raise reject(name, "negative size")
            total += member.size
            if total > limits.max_bytes:
                # Checked on the header, before tarfile skips (decompresses) the data.
                raise reject(name, "archive content exceeds %d bytes (max_bytes); declared so far: %d" % (limits.max_bytes, total))
        parent = parts[:-1]
        if parent != checked_parent:
            # Once a name is an implied directory it can only come again as a directory member,
            # so the ancestors of the previous member's parent need no second look.
            for depth in range(1, len(parts)):
                ancestor = "/".join(parts[:depth])
                ancestor_kind = names.get(ancestor) & _KIND_MASK
                if ancestor_kind == _SYMLINK:
                    raise reject(name, "writing through a symlink ('%s' is a symlink member)" % _show(ancestor))
                if ancestor_kind in (_FILE, _HARDLINK):
                    raise reject(name, "'%s' is a file in this archive but used here as a directory" % _show(ancestor))
        joined = "/".join(parts)
        seen = names.get(joined)
        if seen & _KIND_MASK:
            raise reject(name, "duplicate member ('%s' appears more than once)" % _show(joined))
        if seen & _IMPLIED and kind != "dir":
            raise reject(name, "'%s' is a directory in this archive but this member is a %s" % (_show(joined), kind))
        linkname = None
        if kind == "symlink":
            linkname = member.linkname
            try:
                _check_text(linkname, "symlink target", limits.max_name_length)
                _resolve_link(parts, linkname, links)
            except _Unsafe as exc:
                raise reject(name, str(exc)) from None
            links[parts] = linkname
        elif kind == "hardlink":
            try:
                target = _split_path(member.linkname, "hardlink target", limits.max_name_length)
            except _Unsafe as exc:
                raise reject(name, str(exc)) from None
            target = hardlink_target.get(target, target)
            if not target or names.get("/".join(target)) & _KIND_MASK != _FILE:
                raise reject(name, "hardlink to '%s' which is not an earlier regular file in the archive" % _show(member.linkname))
            hardlink_target[parts] = target
            linkname = "/".join(target)
        names.add(joined, _KIND_CODE[kind])
        if parent != checked_parent:
            for depth in range(1, len(parts)):
                names.add("/".join(parts[:depth]), _IMPLIED)
            checked_parent = parent
        yield _plan(member, kind, parts, _safe_mode(kind, member.mode), linkname), member

    # Final state: a symlink added later can change where an earlier one leads.
    for parts, linkname in links.items():
        try:
            _resolve_link(parts, linkname, links)
        except _Unsafe as exc:
            raise reject("/".join(parts), str(exc)) from None

    _check_end(tar, bounded, last, component, file)


def _check_end(tar, bounded, last, component, file):
    """tarfile treats a bad header after the first member as the end: make that an error."""
    try:
        if tar.offset > 0:
            bounded.seek(tar.offset - 1)
            if len(bounded.read(1)) != 1:
                raise ArchiveError("not a readable tar archive: truncated (data ends before the last member does)", component=component, file=file)
        bounded.seek(tar.offset)
        block = bounded.read(tarfile.BLOCKSIZE)
    except _READ_ERRORS as exc:
        raise ArchiveError("not a readable tar archive: %s" % (exc or type(exc).__name__), component=component, file=file) from None
    if block and block.count(0) != len(block):
        after = " after member '%s'" % _show(last.name) if last is not None else ""
        raise ArchiveError("not a readable tar archive: invalid header at offset %d%s" % (tar.offset, after), component=component, file=file)


def scan_archive(path, limits, component=None, file=None):
    """Validate a tar archive without writing anything; return the member plans.

    Each plan is a dict: name (normalised), type (file/dir/symlink/hardlink),
    mode (as it will be written), size, mtime, linkname.
    """
    with _headers_guard(component, file), _open_tar(path, component, file) as (tar, bounded):
        return [plan for plan, _member in _scan(tar, bounded, limits, component, file)]


@contextmanager
def _headers_guard(component, file):
    """tarfile reads each chained PAX or GNU long-name header with one more level of recursion:
    thousands of them end in RecursionError, which is the archive's fault (threat 25)."""
    try:
        yield
    except RecursionError:
        raise ArchiveError(CHAINED_HEADERS, component=component, file=file) from None


class _SecondLayer:
    """tarfile's data filter as a second check of each member, independent of _scan, before it is written.

    The filter costs two realpath() walks (an lstat per path component) per member. For a
    regular file it can only refuse a name that is absolute or whose realpath leaves the
    destination; when the filter has already passed a regular file or directory of this
    archive in the same parent directory, realpath(parent) is known to be inside, and the
    new file is one more plain component there (no '.', '..' or '/': the name is
    normalised by _scan) that does not exist yet (created with O_EXCL | O_NOFOLLOW, so
    it is never a symlink): its realpath is realpath(parent)/name, inside. Such a file
    is passed without calling the filter again; every other member (the first file of
    each directory, directories, symlinks, hardlinks) goes through the filter. Writing a
    symlink or a hardlink forgets the directory, so nothing written since the filter's
    walk can change what it found.
    """

    __slots__ = ("_filter", "_target", "_parent")

    def __init__(self, target_dir):
        self._filter = getattr(tarfile, "data_filter", None)
        self._target = target_dir
        self._parent = None  # the parent of the last file or directory the filter passed

    def check(self, member, plan, component, file):
        if self._filter is None:
            return
        kind = plan["type"]
        parent = plan["name"].rpartition("/")[0]
        if kind == "file" and parent == self._parent:
            return
        self._parent = None
        try:
            self._filter(member, self._target)
        except tarfile.TarError as exc:  # FilterError and its subclasses
            raise ArchiveError("unsafe member '%s': rejected by the tarfile data filter: %s" % (_show(member.name), exc),
                               component=component, file=file) from None
        if kind in ("file", "dir"):
            self._parent = parent


def _write_error(exc, name, component, file):
    if exc.errno == errno.ENAMETOOLONG:
        # The member's path is too long for the filesystem under this destination: the archive's fault (threat 25).
        return ArchiveError("unsafe member '%s': its path is too long for the filesystem at the destination (%s)"
                            % (_show(name), exc.strerror or exc), component=component, file=file)
    return storage_error(exc, "writing '%s'" % _show(name), component, file)


class _PlainCopier:
    """Copies member data out of an uncompressed archive with positioned reads into reused buffers.

    Reads go to the archive's own descriptor at the data offset tarfile found for the
    member (the handle that was verified), so no per-block objects are allocated and
    nothing passes through tarfile's buffering. The sha256 is taken on the way: by the
    HashWorker for files of a block or more (each buffer comes back for reuse once it
    is hashed), inline for smaller ones.
    """

    def __init__(self, raw, hashing, component, file):
        self._fd = raw.fileno()
        self._hashing = hashing
        self._component = component
        self._file = file
        self._free = queue.Queue()
        for _index in range(PIPELINE_BUFFERS):
            self._free.put(bytearray(BLOCK_SIZE))

    def copy(self, offset, size, fd, hasher, name, flusher=None):
        """Write ``size`` bytes found at ``offset`` of the archive to ``fd``; return the count."""
        pipelined = size >= BLOCK_SIZE
        done = 0
        while done < size:
            buf = self._free.get()
            view = memoryview(buf)[:min(BLOCK_SIZE, size - done)]
            try:
                count = os.preadv(self._fd, [view], offset + done)
            except OSError as exc:
                self._free.put(buf)
                raise ArchiveError("cannot read member '%s': %s" % (_show(name), exc), component=self._component, file=self._file) from None
            if not count:
                self._free.put(buf)
                raise ArchiveError("not a readable tar archive: member '%s' is truncated: got %d of %d bytes" % (_show(name), done, size),
                                   component=self._component, file=self._file)
            data = view[:count]
            if pipelined:
                # The worker only reads the buffer while this thread writes it, and hands it
                # back once hashed; this thread asks for a buffer only after its write.
                self._hashing.update(hasher, data, lambda buf=buf: self._free.put(buf))
            else:
                hasher.update(data)
            try:
                while len(data):
                    data = data[os.write(fd, data):]
            except OSError as exc:
                raise _write_error(exc, name, self._component, self._file) from exc
            finally:
                if not pipelined:
                    self._free.put(buf)
            done += count
            if flusher is not None:
                flusher.wrote(count)
        return done


def _stream_member(bounded, member, fd, hasher, hashing, budget, name, component, file, flusher=None):
    """Write one member's data read from the decompressed stream (compressed archives); return the count.

    The stream is at the member's data already (tarfile has just read its header), so
    this reads it in BLOCK_SIZE pieces straight from the decompressor, not through
    tarfile's file object and buffering.
    """
    size = member.size
    if size > budget:
        raise ArchiveError("archive content exceeds max_bytes while writing '%s'" % _show(name), component=component, file=file)
    written = 0
    try:
        bounded.seek(member.offset_data)
    except (_Unsafe,) + _READ_ERRORS as exc:
        raise ArchiveError("not a readable tar archive: cannot read member '%s': %s" % (_show(name), exc), component=component, file=file) from None
    while written < size:
        try:
            chunk = bounded.read_some(min(BLOCK_SIZE, size - written))
        except (_Unsafe,) + _READ_ERRORS as exc:
            raise ArchiveError("not a readable tar archive: cannot read member '%s': %s" % (_show(name), exc), component=component, file=file) from None
        if not chunk:
            break
        written += len(chunk)
        if hashing is not None:
            hashing.update(hasher, chunk)  # bytes: immutable, safe to hash while we write
        else:
            hasher.update(chunk)
        view = memoryview(chunk)
        try:
            while len(view):
                view = view[os.write(fd, view):]
        except OSError as exc:
            raise _write_error(exc, name, component, file) from exc
        if flusher is not None:
            flusher.wrote(len(chunk))
    return written


def _write_file(bounded, member, path, plan, budget, component, file, hashing=None, copier=None):
    """Write one regular file; return ``(bytes written, sha256 hasher)``. Removes the partial file on error.

    The sha256 of what is written is computed on the way (in ``hashing``, a HashWorker,
    when given), so the install record needs no second pass over the extracted files.
    With ``copier`` (an uncompressed archive) the data is read straight from the archive
    file, else from the decompressed stream. The file gets its mode before it is closed;
    it is made durable with the whole tree afterwards (sync_tree in extract_archive). Big
    files are written back while they are written (WriteBehind), which leaves that
    little to do and reports a write-back error on the file it belongs to.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    name = plan["name"]
    try:
        fd = os.open(path, flags, 0o600)
    except OSError as exc:
        raise _write_error(exc, name, component, file) from exc
    ok = False
    hasher = hashlib.sha256()
    flusher = WriteBehind(fd, WRITE_BEHIND_STEP) if plan["size"] >= PIPELINE_MIN_SIZE else None
    try:
        try:
            if copier is None:
                written = _stream_member(bounded, member, fd, hasher, hashing, budget, name, component, file, flusher)
            elif plan["size"] > budget:
                raise ArchiveError("archive content exceeds max_bytes while writing '%s'" % _show(name), component=component, file=file)
            else:
                written = copier.copy(member.offset_data, plan["size"], fd, hasher, name, flusher)
        finally:
            failure = flusher.close() if flusher is not None else None
        if isinstance(failure, OSError):
            raise _write_error(failure, name, component, file) from failure
        if failure is not None:
            raise failure
        if written != plan["size"]:
            raise ArchiveError("not a readable tar archive: member '%s' is truncated: got %d of %d bytes" % (_show(name), written, plan["size"]),
                               component=component, file=file)
        try:
            os.fchmod(fd, plan["mode"])
            if _UTIME_FD:
                os.utime(fd, ns=(plan["mtime"] * 1000000000, plan["mtime"] * 1000000000))
        except OSError as exc:
            raise _write_error(exc, name, component, file) from exc
        ok = True
    finally:
        try:
            os.close(fd)
        except OSError as exc:
            if ok:
                raise _write_error(exc, name, component, file) from exc
        if not ok:
            try:
                os.unlink(path)
            except OSError:
                pass
    return written, hasher


# A file's mtime is set through its descriptor once its data is written (no second path lookup).
_UTIME_FD = os.utime in os.supports_fd


def _set_mtime(path, mtime):
    if os.utime in os.supports_follow_symlinks:
        os.utime(path, ns=(mtime * 1000000000, mtime * 1000000000), follow_symlinks=False)
    elif not os.path.islink(path):
        os.utime(path, ns=(mtime * 1000000000, mtime * 1000000000))


def extract_archive(path, target_dir, limits, component=None, file=None, fileobj=None, inventory=None):
    """Judge and extract the members one by one (one pass) into an existing, empty, private directory.

    Each member is judged (_scan) before any of it is written, and the archive is
    decompressed once. What only the whole archive can tell (the final state of its
    symlinks, what follows the last member) is checked after the last member: when
    anything fails, everything written below ``target_dir`` is removed before the error
    is raised, so a refused archive leaves nothing. The tree is made durable in one step
    at the end (sync_tree: one syncfs, or fsyncs after all is written).

    Returns dict(files, dirs, symlinks, bytes, sha256); ``files`` counts hardlinks
    too. Without ``inventory``, ``sha256`` maps the relative path of every regular file
    (and hardlink) to ``(hexdigest, size)`` of the bytes written, for
    tree_inventory(known=...). With ``inventory`` (a text file open for writing) one
    JSON line per entry written (the entries of tree_inventory: path, type, size, mode,
    sha256, target) goes there instead and ``sha256`` stays empty, so memory does not
    grow with the number of members. ``fileobj``: the archive already open (verified
    in place); it is left open. Raises ArchiveError or StorageError.
    """
    try:
        st = os.lstat(target_dir)
    except OSError as exc:
        raise ArchiveError("staging directory '%s' is not usable: %s" % (target_dir, exc), component=component, file=file) from None
    if not stat.S_ISDIR(st.st_mode):
        raise ArchiveError("staging directory '%s' is not a directory" % target_dir, component=component, file=file)
    if os.listdir(target_dir):
        raise ArchiveError("staging directory '%s' is not empty" % target_dir, component=component, file=file)
    target_dir = os.path.abspath(target_dir)
    result = {"files": 0, "dirs": 0, "symlinks": 0, "bytes": 0, "sha256": {}}
    # Opened before the first write: syncfs reports a write-back error that happens after this.
    root_fd = os.open(target_dir, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0))
    hashing = HashWorker()
    done = False
    try:
        _extract(path, target_dir, limits, component, file, fileobj, result, hashing, inventory)
        hashing.close()
        try:
            sync_tree(target_dir, root_fd)
        except OSError as exc:
            raise _write_error(exc, ".", component, file) from exc
        done = True
    finally:
        hashing.close()
        os.close(root_fd)
        if not done:
            _empty(target_dir)
    return result


def _empty(directory):
    """Remove everything below ``directory`` (a refused or failed extraction), keep the directory."""
    for entry in os.listdir(directory):
        full = os.path.join(directory, entry)
        if os.path.isdir(full) and not os.path.islink(full):
            shutil.rmtree(full, ignore_errors=True)
        else:
            try:
                os.unlink(full)
            except OSError:
                pass


_JSON_TEXT = json.encoder.encode_basestring_ascii  # what json.dumps uses for a str (ensure_ascii)


def _json_text(value):
    return "null" if value is None else _JSON_TEXT(value)


def _inventory_line(handle, path, kind, size, mode, sha256=None, target=None):
    """One entry as the line json.dumps(entry, sort_keys=True) writes, without building the encoder per call."""
    handle.write('{"mode": %d, "path": %s, "sha256": %s, "size": %d, "target": %s, "type": %s}\n'
                 % (mode, _JSON_TEXT(path), _json_text(sha256), size, _json_text(target), _JSON_TEXT(kind)))


def _extract(path, target_dir, limits, component, file, fileobj, result, hashing, inventory):
    hashers = {}  # name -> (hasher, size), without ``inventory`` only
    with _open_tar(path, component, file, fileobj) as (tar, bounded):
        copier = None
        if bounded.plain is not None and hasattr(os, "preadv"):
            copier = _PlainCopier(bounded.plain, hashing, component, file)
        created_dirs = {}  # relative name -> (mode, mtime or None)
        second_layer = _SecondLayer(target_dir)
        for plan, member in _scan(tar, bounded, limits, component, file):
            # tarfile keeps every TarInfo it read (for getmembers()); nothing here needs them.
            del tar.members[:]
            second_layer.check(member, plan, component, file)
            name = plan["name"]
            dest = os.path.join(target_dir, *name.split("/"))
            try:
                parents = name.split("/")[:-1]
                for depth in range(1, len(parents) + 1):
                    rel = "/".join(parents[:depth])
                    if rel not in created_dirs:
                        os.mkdir(os.path.join(target_dir, *parents[:depth]), 0o700)
                        created_dirs[rel] = (0o755, None)
                        result["dirs"] += 1
                if plan["type"] == "dir":
                    if name not in created_dirs:
                        os.mkdir(dest, 0o700)
                        result["dirs"] += 1
                    created_dirs[name] = (plan["mode"], plan["mtime"])
                elif plan["type"] == "symlink":
                    os.symlink(plan["linkname"], dest)
                    _set_mtime(dest, plan["mtime"])
                    result["symlinks"] += 1
                    if inventory is not None:
                        _inventory_line(inventory, name, "symlink", len(os.fsencode(plan["linkname"])),
                                        stat.S_IMODE(os.lstat(dest).st_mode), target=plan["linkname"])
                elif plan["type"] == "hardlink":
                    source = os.path.join(target_dir, *plan["linkname"].split("/"))
                    if os.link in os.supports_follow_symlinks:
                        os.link(source, dest, follow_symlinks=False)
                    else:
                        os.link(source, dest)
                    if inventory is not None:
                        # Rare: read the file it shares again rather than keep every file's digest.
                        digest, size = hash_file(dest, "sha256")
                        _inventory_line(inventory, name, "file", size, stat.S_IMODE(os.lstat(dest).st_mode), sha256=digest)
                    elif plan["linkname"] in hashers:
                        hashers[name] = hashers[plan["linkname"]]
                    result["files"] += 1
            except OSError as exc:
                raise _write_error(exc, name, component, file) from exc
            if plan["type"] == "file":
                # Files of a block or more are hashed by the helper thread, small ones here (no hand-over cost).
                big = plan["size"] >= BLOCK_SIZE
                written, hasher = _write_file(bounded, member, dest, plan, limits.max_bytes - result["bytes"], component, file,
                                              hashing if big else None, copier)
                result["bytes"] += written
                if not _UTIME_FD:
                    try:
                        _set_mtime(dest, plan["mtime"])
                    except OSError as exc:
                        raise _write_error(exc, name, component, file) from exc
                result["files"] += 1
                if inventory is None:
                    hashers[name] = (hasher, written)
                else:
                    if big:
                        hashing.drain()
                    _inventory_line(inventory, name, "file", written, plan["mode"], sha256=hasher.hexdigest())
        # Deepest first, so setting a parent's mtime comes after its children changed it.
        for rel in sorted(created_dirs, key=lambda item: item.count("/"), reverse=True):
            mode, mtime = created_dirs[rel]
            dest = os.path.join(target_dir, *rel.split("/"))
            try:
                os.chmod(dest, mode)
                if mtime is not None:
                    _set_mtime(dest, mtime)
            except OSError as exc:
                raise _write_error(exc, rel, component, file) from exc
            if inventory is not None:
                _inventory_line(inventory, rel, "dir", 0, mode)
    hashing.close()
    for name, (hasher, size) in hashers.items():
        result["sha256"][name] = (hasher.hexdigest(), size)


def _walk(src_dir):
    """All entries below src_dir as (parts, path, lstat) sorted by components; parents first."""
    found = []
    stack = [()]
    while stack:
        rel = stack.pop()
        directory = os.path.join(src_dir, *rel) if rel else src_dir
        with os.scandir(directory) as handle:
            entries = list(handle)
        for entry in entries:
            parts = rel + (entry.name,)
            st = entry.stat(follow_symlinks=False)
            found.append((parts, entry.path, st))
            if stat.S_ISDIR(st.st_mode):
                stack.append(parts)
    found.sort(key=lambda item: item[0])
    return found


def _normal_file_mode(st_mode):
    return 0o755 if st_mode & 0o111 else 0o644


def _write_tar(raw, compression, entries, links, mtime):
    """Write the normalised members to raw; return the sum of regular file sizes."""
    unpacked = 0
    if compression == "gz":
        # No file name and mtime 0 in the gzip header: the output depends on content only.
        stream = gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=9, mtime=0)
    elif compression == "xz":
        stream = lzma.LZMAFile(raw, "wb", format=lzma.FORMAT_XZ, check=lzma.CHECK_CRC64, preset=6)
    else:
        stream = raw
    try:
        with tarfile.open(fileobj=stream, mode="w:", format=tarfile.PAX_FORMAT, encoding="utf-8") as tar:
            for parts, path, st in entries:
                info = tarfile.TarInfo("/".join(parts))
                info.mtime = mtime
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                if stat.S_ISDIR(st.st_mode):
                    info.type = tarfile.DIRTYPE
                    info.mode = 0o755
                    tar.addfile(info)
                elif stat.S_ISLNK(st.st_mode):
                    info.type = tarfile.SYMTYPE
                    info.mode = 0o777
                    info.linkname = links[parts]
                    tar.addfile(info)
                else:
                    info.type = tarfile.REGTYPE
                    info.mode = _normal_file_mode(st.st_mode)
                    with open(path, "rb") as handle:
                        info.size = os.fstat(handle.fileno()).st_size
                        tar.addfile(info, handle)
                    unpacked += info.size
    finally:
        if stream is not raw:
            stream.close()
    return unpacked


def build_archive(src_dir, out_path, compression="gz", mtime=0):
    """Write a reproducible tar archive of src_dir; return dict(sha256, size, unpacked_size, members).

    Same tree content -> byte-identical output, whatever the mtimes, owners or
    special mode bits on disk. ``mtime`` (e.g. SOURCE_DATE_EPOCH) is stamped on
    every member.
    """
    if compression not in _COMPRESSIONS:
        raise ArchiveError("unsupported compression '%s' (gz, xz or none)" % (compression,), file=out_path)
    if compression == "xz" and lzma is None:
        raise ArchiveError("xz compression is not available in this Python", file=out_path)
    if isinstance(mtime, bool) or not isinstance(mtime, int) or not 0 <= mtime < 8 ** 11:
        raise ArchiveError("mtime must be an integer from 0 to %d, got %r" % (8 ** 11 - 1, mtime), file=out_path)
    src_dir = os.path.abspath(src_dir)
    out_abs = os.path.abspath(out_path)
    if out_abs == src_dir or out_abs.startswith(src_dir.rstrip("/") + "/"):
        raise ArchiveError("output '%s' must not be inside the source directory '%s'" % (out_path, src_dir), file=out_path)
    if not os.path.isdir(src_dir):
        raise ArchiveError("source directory '%s' does not exist" % src_dir, file=out_path)

    entries = _walk(src_dir)
    links = {}
    for parts, path, st in entries:
        name = "/".join(parts)
        try:
            _split_path(name, "name", 4096)
        except _Unsafe as exc:
            raise ArchiveError("cannot store '%s': %s" % (_show(name), exc), file=out_path) from None
        if stat.S_ISLNK(st.st_mode):
            links[parts] = os.readlink(path)
        elif not (stat.S_ISDIR(st.st_mode) or stat.S_ISREG(st.st_mode)):
            raise ArchiveError("cannot store '%s': only files, directories and symlinks are supported" % _show(name), file=out_path)
    for parts, target in links.items():
        try:
            _check_text(target, "symlink target", 4096)
            _resolve_link(parts, target, links)
        except _Unsafe as exc:
            raise ArchiveError("cannot store symlink '%s': %s" % (_show("/".join(parts)), exc), file=out_path) from None

    out_dir = os.path.dirname(out_abs)
    fd, tmp_path = tempfile.mkstemp(prefix="." + os.path.basename(out_abs) + ".", suffix=".tmp", dir=out_dir)
    done = False
    try:
        with os.fdopen(fd, "wb") as raw:
            unpacked = _write_tar(raw, compression, entries, links, mtime)
            raw.flush()
            os.fsync(raw.fileno())
        os.chmod(tmp_path, 0o644)
        os.replace(tmp_path, out_abs)
        done = True
    except OSError as exc:
        if exc.errno in NO_SPACE_ERRNOS:
            raise storage_error(exc, "writing '%s'" % out_path, file=out_path) from exc
        raise
    finally:
        if not done:
            try:
                os.unlink(tmp_path)
            except OSError:
                pass
    digest, size = hash_file(out_abs, "sha256")
    return {"sha256": digest, "size": size, "unpacked_size": unpacked, "members": len(entries)}


def check_release_tree(root, component=None, file=None):
    """Judge the links of a whole staged release tree, as the kernel will see it (threat 19).

    Each archive's links were judged against that archive alone; once the archives of one
    component sit side by side, a link from one archive can pass through a link from another
    (``x/p -> ../q/q/..`` with ``q -> .``). Here every symlink is resolved against all the
    symlinks of the merged tree; an absolute target, an escape from ``root`` or a loop fails,
    as does any entry that is not a regular file, directory or symlink, or carries
    setuid/setgid/sticky bits. ``file``: the artifact whose unpacking completed the tree, for
    the message. Raises ArchiveError; writes nothing. Returns the number of links judged.
    """
    links = {}
    for parts, path, st in _walk(root):
        if stat.S_ISLNK(st.st_mode):
            links[parts] = os.readlink(path)
        elif not (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode)):
            raise ArchiveError("unsafe entry '%s' in the staged release: not a regular file, directory or symlink"
                               % _show("/".join(parts)), component=component, file=file)
        elif st.st_mode & 0o7000:
            raise ArchiveError("unsafe entry '%s' in the staged release: setuid/setgid/sticky bits (mode %04o)"
                               % (_show("/".join(parts)), stat.S_IMODE(st.st_mode)), component=component, file=file)
    for parts in sorted(links):
        try:
            _resolve_link(parts, links[parts], links)
        except _Unsafe as exc:
            raise ArchiveError(
                "unsafe symlink '%s' -> '%s' once the archives of the component are unpacked side by side: %s"
                % (_show("/".join(parts)), _show(links[parts]), exc), component=component, file=file) from None
    return len(links)


def tree_inventory(root, known=None):
    """Every entry below root: dict(path, type, size, mode, sha256, target), sorted by path.

    type is file, dir, symlink or other; size is 0 for directories; sha256 is
    set for files only; target for symlinks only. ``known`` maps a relative path
    to ``(sha256, size)`` computed while this run wrote that file into its private
    staging directory; such files are not read again (unless the size on disk
    differs). Every other file is hashed.
    """
    known = known or {}
    inventory = []
    for parts, path, st in _walk(root):
        entry = {"path": "/".join(parts), "type": "other", "size": 0, "mode": stat.S_IMODE(st.st_mode), "sha256": None, "target": None}
        if stat.S_ISREG(st.st_mode):
            entry["type"] = "file"
            seen = known.get(entry["path"])
            if seen is not None and seen[1] == st.st_size:
                entry["sha256"], entry["size"] = seen
            else:
                entry["sha256"], entry["size"] = hash_file(path, "sha256")
        elif stat.S_ISDIR(st.st_mode):
            entry["type"] = "dir"
        elif stat.S_ISLNK(st.st_mode):
            entry["type"] = "symlink"
            entry["target"] = os.readlink(path)
            entry["size"] = len(os.fsencode(entry["target"]))
        inventory.append(entry)
    inventory.sort(key=lambda item: item["path"])
    return inventory


def verify_tree(root, inventory):
    """Re-hash root and compare with an inventory; return human-readable differences (empty = identical)."""
    if not os.path.isdir(root):
        return ["missing: root directory '%s'" % root]
    actual = {entry["path"]: entry for entry in tree_inventory(root)}
    expected = {entry["path"]: entry for entry in inventory}
    problems = []
    for path in sorted(set(expected) | set(actual)):
        want = expected.get(path)
        have = actual.get(path)
        if have is None:
            problems.append("missing: %s" % path)
            continue
        if want is None:
            problems.append("extra: %s (%s)" % (path, have["type"]))
            continue
        if want.get("type") != have["type"]:
            problems.append("type changed: %s (expected %s, found %s)" % (path, want.get("type"), have["type"]))
            continue
        if have["type"] == "file":
            if want.get("size") != have["size"]:
                problems.append("size changed: %s (expected %s bytes, found %s)" % (path, want.get("size"), have["size"]))
            elif want.get("sha256") is not None and (want.get("sha256") or "").lower() != have["sha256"]:
                problems.append("content changed: %s (expected sha256 %s, found %s)" % (path, want.get("sha256"), have["sha256"]))
        if have["type"] == "symlink":
            if want.get("target") is not None and want.get("target") != have["target"]:
                problems.append("symlink target changed: %s (expected '%s', found '%s')" % (path, want.get("target"), have["target"]))
        elif want.get("mode") is not None and want.get("mode") != have["mode"]:
            problems.append("mode changed: %s (expected %04o, found %04o)" % (path, want["mode"], have["mode"]))
    return problems
