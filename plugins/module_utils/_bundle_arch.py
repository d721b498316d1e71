# -*- coding: utf-8 -*-
# Copyright: groundwork.infra contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private to groundwork.infra: CPU architectures in bundles. Standard library only.

The bundle format names architectures the way Debian does (``dpkg --print-architecture``):
amd64, arm64, armhf. Hosts report their machine the way the kernel does (``uname -m``,
Ansible's ``ansible_architecture``): x86_64, aarch64, armv7l. This is the one place that
maps one to the other, and that reads which architecture an ELF file was built for.
"""

from __future__ import annotations

import platform
import struct

ARCHITECTURES = ("amd64", "arm64", "armhf")

# uname -m (and the Debian names themselves) -> Debian architecture. armv8l is a 32-bit
# userland on a 64-bit ARM kernel; i386/i686 are named so that a refusal can say what the host is.
MACHINES = {
    "x86_64": "amd64",
    "amd64": "amd64",
    "aarch64": "arm64",
    "arm64": "arm64",
    "armv7l": "armhf",
    "armv7": "armhf",
    "armv8l": "armhf",
    "armhf": "armhf",
    "i386": "i386",
    "i486": "i386",
    "i586": "i386",
    "i686": "i386",
}

# ELF e_machine -> (Debian architecture, ELF class that goes with it: 1 = 32-bit, 2 = 64-bit).
_ELF_MACHINES = {62: ("amd64", 2), 183: ("arm64", 2), 40: ("armhf", 1), 3: ("i386", 1)}
ELF_HEADER_SIZE = 20


def debian_architecture(machine, userspace_bits=None):
    """The Debian name of a machine as ``uname -m`` or a Debian system reports it.

    ``userspace_bits`` ("32" or "64", Ansible's ``userspace_bits`` fact) follows dpkg: a 32-bit
    userland on a 64-bit kernel is i386 on x86_64 and armhf on aarch64. A machine the table
    does not know is returned as given (lowercased), so that a refusal names what the host
    really is (riscv64, ppc64le, ...). None or an empty value gives None.
    """
    if machine is None:
        return None
    text = str(machine).strip().lower()
    if not text:
        return None
    name = MACHINES.get(text, text)
    if str(userspace_bits) == "32":
        name = {"amd64": "i386", "arm64": "armhf"}.get(name, name)
    return name


def valid_architecture(value):
    """True for an architecture a bundle may name (amd64, arm64, armhf)."""
    return isinstance(value, str) and value in ARCHITECTURES


def elf_architecture(header):
    """Which architecture the first bytes of a file were built for, or None when they are not an ELF header.

    Returns the Debian name for the machines of ``_ELF_MACHINES``, else ``"ELF machine <n>"``.
    """
    if len(header) < ELF_HEADER_SIZE or header[:4] != b"\x7fELF":
        return None
    elf_class, data = header[4], header[5]
    if data not in (1, 2):
        return "ELF with an unknown byte order"
    (machine,) = struct.unpack("<H" if data == 1 else ">H", header[18:20])
    known = _ELF_MACHINES.get(machine)
    if known is None:
        return "ELF machine %d" % machine
    name, expected_class = known
    if elf_class != expected_class:
        return "ELF machine %d with %d-bit class" % (machine, 32 if elf_class == 1 else 64)
    return name


def file_architecture(path):
    """elf_architecture() of the file at ``path``."""
    with open(path, "rb") as handle:
        return elf_architecture(handle.read(ELF_HEADER_SIZE))


def host_platform():
    """What this host is, as the bundle_info module reports it: machine, userspace bits, Debian architecture."""
    machine = platform.machine()
    # The interpreter's pointer size is its userland's; platform.architecture() would run file(1) each time.
    bits = str(struct.calcsize("P") * 8)
    return {"machine": machine, "userspace_bits": bits, "architecture": debian_architecture(machine, bits)}


def recorded_architecture(artifacts):
    """The architecture a component was installed for, from its recorded artifacts: a Debian name or "all"."""
    found = sorted(set(a.get("arch") for a in artifacts or [] if a.get("arch")))
    return ", ".join(found) if found else "all"
