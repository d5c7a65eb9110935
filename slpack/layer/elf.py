"""Just enough ELF reading to prove what a layer's native code needs.

Three facts decide whether a shared object loads on a Lambda runtime: its machine (x86_64 or
aarch64), the libraries it lists as ``DT_NEEDED`` (each must be in the layer or in the runtime's
OS), and the glibc symbol versions it requires (``GLIBC_2.28`` on a glibc 2.26 runtime is the
classic ``version 'GLIBC_2.27' not found`` at import). ``readelf`` would tell the same, but is
not on every machine that builds a layer, so this reads the headers directly.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass, field
from pathlib import Path

_MACHINES = {62: "x86_64", 183: "aarch64"}
_SHT_DYNAMIC, _SHT_GNU_VERNEED = 6, 0x6FFFFFFE
_DT_NEEDED, _DT_SONAME = 1, 14
_GLIBC = re.compile(r"^GLIBC_(\d+)\.(\d+)")

# What every Lambda OS image provides: glibc's libraries and GCC's C++ runtime.
SYSTEM_LIBRARIES = frozenset(
    {
        "libc.so.6",
        "libm.so.6",
        "libdl.so.2",
        "libpthread.so.0",
        "librt.so.1",
        "libutil.so.1",
        "ld-linux-x86-64.so.2",
        "ld-linux-aarch64.so.1",
        "libstdc++.so.6",
        "libgcc_s.so.1",
        "libz.so.1",  # every Python runtime has zlib: its own zlib module links it
    }
)


@dataclass(frozen=True)
class ElfInfo:
    machine: str  # x86_64 | aarch64 | e_machine=<n>
    needed: tuple[str, ...] = ()
    soname: str | None = None
    versions: tuple[str, ...] = field(default=())  # symbol versions required, e.g. GLIBC_2.28

    @property
    def glibc(self) -> tuple[int, int]:
        """The newest glibc this object needs (``(2, 0)`` when it names no glibc version)."""
        found = [(int(m[1]), int(m[2])) for v in self.versions if (m := _GLIBC.match(v))]
        return max(found, default=(2, 0))


def is_elf(path: Path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(4) == b"\x7fELF"


def read_elf(path: Path) -> ElfInfo:
    """Read machine, DT_NEEDED, DT_SONAME and required symbol versions of a 64-bit little-endian
    ELF."""
    data = path.read_bytes()
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        raise ValueError(f"{path} is not a 64-bit little-endian ELF file")
    (e_machine,) = struct.unpack_from("<H", data, 18)
    (e_shoff,) = struct.unpack_from("<Q", data, 40)
    e_shentsize, e_shnum = struct.unpack_from("<HH", data, 58)
    sections = [
        struct.unpack_from("<IIQQQQIIQQ", data, e_shoff + i * e_shentsize) for i in range(e_shnum)
    ]

    def string(table: int, offset: int) -> str:
        start = sections[table][4] + offset
        return data[start : data.index(b"\0", start)].decode("utf-8", "replace")

    needed: list[str] = []
    soname = None
    versions: list[str] = []
    for _name, sh_type, _flags, _addr, offset, size, link, info, _align, _entsize in sections:
        if sh_type == _SHT_DYNAMIC:
            for pos in range(offset, offset + size, 16):
                tag, value = struct.unpack_from("<qQ", data, pos)
                if tag == _DT_NEEDED:
                    needed.append(string(link, value))
                elif tag == _DT_SONAME:
                    soname = string(link, value)
        elif sh_type == _SHT_GNU_VERNEED:
            pos = offset
            for _ in range(info):  # sh_info holds the number of Verneed entries
                _ver, cnt, _file, aux, nxt = struct.unpack_from("<HHIII", data, pos)
                apos = pos + aux
                for _ in range(cnt):
                    _hash, _flags2, _other, name, anext = struct.unpack_from("<IHHII", data, apos)
                    versions.append(string(link, name))
                    apos += anext
                pos += nxt
    machine = _MACHINES.get(e_machine, f"e_machine={e_machine}")
    return ElfInfo(machine, tuple(needed), soname, tuple(sorted(set(versions))))
