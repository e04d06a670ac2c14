"""Carries into a repaired wheel the shared libraries that the manylinux policy lets a wheel take
from the system but that minimal systems lack (scripts/build_wheel.sh runs it after auditwheel).

HarfBuzz links GLib (its Unicode functions). The manylinux policy counts libglib-2.0.so.0 as part
of the base system, so `auditwheel repair` leaves it out, and the wheel then fails to import on a
machine without GLib (a bare Debian root: scripts/check_wheel_isolated.sh found it). This does what
auditwheel does for the others: copies the library into glyphcpp.libs/ under a name with its hash,
points the libraries that need it at that name, and makes its own dependencies resolve to the
copies already there (GLib needs PCRE2).

    python scripts/graft_libs.py WHEEL [SONAME ...]      (default: libglib-2.0.so.0)

Needs patchelf on PATH. Rewrites WHEEL in place (with a new RECORD).
"""
import base64
import csv
import hashlib
import io
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile

SYSTEM = re.compile(r"^(libc|libm|libdl|libpthread|librt|libstdc\+\+|libgcc_s|ld-linux[^.]*|libz)\.so")


def patchelf(*args: str) -> str:
    return subprocess.run(["patchelf", *args], check=True, capture_output=True, text=True).stdout


def needed(path: str) -> list:
    return patchelf("--print-needed", path).split()


def system_path(soname: str) -> str:
    """Where the dynamic loader finds soname on this machine (ldconfig's cache)."""
    out = subprocess.run(["ldconfig", "-p"], check=True, capture_output=True, text=True).stdout
    for line in out.splitlines():
        parts = line.strip().split(" => ")
        if len(parts) == 2 and parts[0].split()[0] == soname and "x86-64" in parts[0]:
            return os.path.realpath(parts[1])
    raise SystemExit(f"graft_libs: {soname} is not installed on this machine")


def main() -> None:
    wheel = sys.argv[1]
    extra = sys.argv[2:] or ["libglib-2.0.so.0"]
    tmp = tempfile.mkdtemp()
    try:
        with zipfile.ZipFile(wheel) as z:
            z.extractall(tmp)
            names = z.namelist()
        libs = next((os.path.join(tmp, n.split("/")[0]) for n in names
                     if n.split("/")[0].endswith(".libs")), None)
        if libs is None:
            raise SystemExit(f"graft_libs: {wheel} has no .libs folder (run auditwheel repair first)")
        elfs = [os.path.join(tmp, n) for n in names if re.search(r"\.so(\.|$)", n)]

        def grafted(soname: str):
            base = soname.split(".so")[0]
            for f in os.listdir(libs):
                if f.startswith(base + "-") and ".so" in f:
                    return f
            return None

        done = []
        for soname in extra:
            users = [e for e in elfs if soname in needed(e)]
            if not users:
                continue
            src = system_path(soname)
            digest = hashlib.sha256(open(src, "rb").read()).hexdigest()[:8]
            base, _, rest = os.path.basename(src).partition(".so")
            new = f"{base}-{digest}.so{rest}"
            dst = os.path.join(libs, new)
            shutil.copy2(src, dst)
            os.chmod(dst, 0o755)
            patchelf("--set-soname", new, dst)
            for dep in needed(dst):
                if SYSTEM.match(dep):
                    continue
                have = grafted(dep)
                if have is None:
                    raise SystemExit(f"graft_libs: {new} needs {dep}, which the wheel does not carry")
                patchelf("--replace-needed", dep, have, dst)
            patchelf("--set-rpath", "$ORIGIN", dst)
            for user in users:
                patchelf("--replace-needed", soname, new, user)
            elfs.append(dst)
            done.append(f"{soname} -> {os.path.basename(libs)}/{new} (for "
                        + ", ".join(os.path.basename(u) for u in users) + ")")

        # a new RECORD: every file with its sha256 and size
        dist_info = next(n.split("/")[0] for n in names if n.split("/")[0].endswith(".dist-info"))
        record_name = f"{dist_info}/RECORD"
        files = []
        for root, _, fs in os.walk(tmp):
            for f in fs:
                rel = os.path.relpath(os.path.join(root, f), tmp).replace(os.sep, "/")
                if rel != record_name:
                    files.append(rel)
        files.sort()
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        for rel in files:
            data = open(os.path.join(tmp, rel), "rb").read()
            h = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            w.writerow([rel, f"sha256={h}", len(data)])
        w.writerow([record_name, "", ""])
        with open(os.path.join(tmp, record_name), "w", encoding="utf-8") as f:
            f.write(buf.getvalue())
        out = wheel + ".tmp"
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
            for rel in files + [record_name]:
                z.write(os.path.join(tmp, rel), rel)
        os.replace(out, wheel)
        for line in done:
            print("graft_libs:", line)
    finally:
        shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
