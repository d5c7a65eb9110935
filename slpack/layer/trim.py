"""Apply a spec's drop rules to a staged layer, and account for every byte removed.

The result says, per rule, how many files and bytes it removed, so the size report can show
where the savings come from, and lists the removed paths (collapsed to the folders removed
whole) so the lock file and the container image can repeat exactly the same trim.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from slpack.layer.elf import is_elf, read_elf
from slpack.layer.spec import LayerSpec, matches


@dataclass
class RuleResult:
    name: str
    why: str
    files: int = 0
    bytes: int = 0


@dataclass
class TrimResult:
    rules: list[RuleResult] = field(default_factory=list)
    removed: list[str] = field(
        default_factory=list
    )  # posix paths under python/, collapsed to whole folders

    @property
    def bytes(self) -> int:
        return sum(r.bytes for r in self.rules)


def trim(root: Path, spec: LayerSpec) -> TrimResult:
    """Remove from ``root`` (the ``python/`` folder) what ``spec`` drops; keep what it keeps."""
    files = {
        p.relative_to(root).as_posix(): p
        for p in sorted(root.rglob("*"))
        if p.is_file() or p.is_symlink()
    }
    result = TrimResult()
    gone: set[str] = set()
    for rule in spec.drop:
        outcome = RuleResult(rule.name, rule.why)
        for rel, path in files.items():
            if rel not in gone and matches(rel, rule.paths) and not matches(rel, spec.keep):
                outcome.files += 1
                outcome.bytes += path.lstat().st_size
                gone.add(rel)
        result.rules.append(outcome)
    unlinked = _unlinked(files, gone, spec)
    if unlinked.files:
        gone.update(
            rel
            for rel in files
            if rel not in gone and matches(rel, spec.drop_unlinked) and not matches(rel, spec.keep)
        )
    result.rules.append(unlinked)
    for rel in gone:
        files[rel].unlink()
    _remove_empty_dirs(root)
    result.removed = _collapse(gone, set(files))
    _rewrite_records(root, gone)
    return result


def _unlinked(files: dict[str, Path], gone: set[str], spec: LayerSpec) -> RuleResult:
    """Candidates of ``drop_unlinked`` that no remaining ELF file names in DT_NEEDED."""
    outcome = RuleResult(
        "unlinked shared libraries", "no ELF file left in the layer lists them in DT_NEEDED"
    )
    candidates = [
        rel
        for rel in files
        if rel not in gone and matches(rel, spec.drop_unlinked) and not matches(rel, spec.keep)
    ]
    if not candidates:
        return outcome
    needed: set[str] = set()
    for rel, path in files.items():
        if rel in gone or rel in candidates or path.is_symlink() or not is_elf(path):
            continue
        needed.update(read_elf(path).needed)
    for rel in candidates:
        path = files[rel]
        names = {path.name}
        if not path.is_symlink() and is_elf(path):
            names.add(read_elf(path).soname or path.name)
        if names & needed:
            return RuleResult(outcome.name, outcome.why)  # something links it: drop none of them
        outcome.files += 1
        outcome.bytes += path.lstat().st_size
    return outcome


def _remove_empty_dirs(root: Path) -> None:
    for folder in sorted(
        (p for p in root.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True
    ):
        if not any(folder.iterdir()):
            folder.rmdir()


def _collapse(gone: set[str], every: set[str]) -> list[str]:
    """Removed paths, with a folder standing for all its files when every file in it went."""
    kept_dirs: set[str] = set()
    for rel in every - gone:
        parts = rel.split("/")
        kept_dirs.update("/".join(parts[:i]) for i in range(1, len(parts)))
    out: set[str] = set()
    for rel in gone:
        parts = rel.split("/")
        top = rel
        for i in range(1, len(parts)):
            prefix = "/".join(parts[:i])
            if prefix not in kept_dirs:
                top = prefix + "/"
                break
        out.add(top)
    return sorted(out)


def _rewrite_records(root: Path, gone: set[str]) -> None:
    """Drop removed files from each RECORD, so the metadata describes what the layer holds."""
    for record in root.glob("*.dist-info/RECORD"):
        lines = record.read_text(encoding="utf-8").splitlines()
        kept = [line for line in lines if line.split(",", 1)[0] not in gone]
        if len(kept) != len(lines):
            record.write_text("".join(line + "\n" for line in kept), encoding="utf-8")
