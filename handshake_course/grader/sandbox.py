"""The sandbox a submitted notebook runs in: one bubblewrap container per kernel, on Linux.

bubblewrap (``bwrap``, the tool Flatpak builds its sandboxes with) starts the kernel in new user,
PID, IPC, UTS, cgroup and network namespaces:

* **Files.** A fresh root holds, read-only: ``/usr`` (and the ``/lib``, ``/bin`` links of a
  merged-/usr system), the few files of ``/etc`` that the dynamic linker needs, the Python
  installation the grader runs on, and the ``handshake_course`` package with its answer key
  (``grader/key``) hidden under an empty folder. Writable, in memory and each size-limited: the
  learner's HOME (``/home/learner``, the notebook's own copy in ``/home/learner/work``), ``/tmp``,
  ``/dev/shm`` and ``/run/kernel``. Nothing else of the machine exists inside: not the course
  checkout, not ``exercises/source``, not the other submissions, not the gradebook.
* **Network.** None: a new network namespace has only its own loopback.
* **Processes.** A new PID namespace: the notebook sees only its own processes, cannot signal
  the grader, and when the kernel ends (or the grader kills it, or the grader itself dies:
  ``--die-with-parent``) every process in the namespace ends with it, even one that started a
  session of its own.
* **Environment.** Cleared; only what the kernel needs is set (HOME, PATH, a Matplotlib backend).
* **Limits.** ``prlimit`` (util-linux) sets, inside the sandbox and before the kernel starts,
  address space, processes (threads count; Linux exempts root from this limit), file size, CPU
  time and open files, and turns core dumps off. See ``Limits`` for the defaults.

The grader talks to the kernel over Jupyter's ``ipc`` transport: Unix sockets that the kernel makes
in ``/run/kernel`` and that the grader reaches from outside as ``/proc/<pid>/root/run/kernel``. So
no folder of the machine is writable from inside, and the network namespace stays empty.

``SandboxProvisioner`` plugs this into jupyter_client (a *kernel provisioner*, jupyter_client's
extension point for where and how a kernel runs), so nbclient drives the sandboxed kernel as any
other: interrupts go as ``interrupt_request`` messages, and killing the kernel kills bwrap.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jupyter_client.connect import KernelConnectionInfo
from jupyter_client.provisioning import LocalProvisioner

from .limits import Limits

HOME = "/home/learner"
WORK = f"{HOME}/work"
KERNEL_DIR = "/run/kernel"
UID = 1000
ETC_FILES = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "nsswitch.conf", "fonts", "alternatives")
MIB = 1024 * 1024


class SandboxUnavailable(RuntimeError):
    """The sandbox cannot run on this machine (the message says why and what to do)."""


# ---- what is mounted ---------------------------------------------------------------------------------

def package_dir() -> Path:
    """The handshake_course package folder (in site-packages, or in a checkout for an editable install)."""
    return Path(__file__).resolve().parents[1]


def key_dir() -> Path:
    """The answer key's folder, hidden inside the sandbox."""
    return Path(__file__).resolve().parent / "key"


def outermost(paths: list[Path]) -> list[Path]:
    """The paths that are not inside another of them, each once, in order."""
    kept: list[Path] = []
    for path in sorted(set(paths), key=lambda p: len(p.parts)):
        if not any(path.is_relative_to(k) for k in kept):
            kept.append(path)
    return kept


def python_dirs() -> list[Path]:
    """The folders of the running Python that a kernel started from it needs: its prefixes (a
    virtual environment and the installation it was made from), its standard library and
    site-packages, and the user site-packages if Python uses it."""
    names = ("stdlib", "platstdlib", "purelib", "platlib")
    paths = [sys.prefix, sys.base_prefix, sys.exec_prefix, *(sysconfig.get_paths()[n] for n in names)]
    paths += [p for p in sys.path if "site-packages" in p or "dist-packages" in p]
    return outermost([Path(p).resolve() for p in paths if p and Path(p).is_dir() and Path(p) != Path("/")])


def system_args() -> list[str]:
    """/usr read-only, and /lib, /lib64, /bin, /sbin as the host has them (links or folders)."""
    args = ["--ro-bind", "/usr", "/usr"]
    for name in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(name):
            args += ["--symlink", os.readlink(name), name]
        elif os.path.isdir(name):
            args += ["--ro-bind", name, name]
    for name in ETC_FILES:
        if os.path.exists(f"/etc/{name}"):
            args += ["--ro-bind", f"/etc/{name}", f"/etc/{name}"]
    return args


def tmpfs(path: str, size: int, sized: bool) -> list[str]:
    return (["--size", str(size)] if sized else []) + ["--tmpfs", path]


def limit_args(limits: Limits) -> list[str]:
    """prlimit's options for the kernel: soft and hard limits alike, so no process raises them."""
    values = {"as": limits.memory * MIB, "nproc": limits.processes, "fsize": limits.file_size * MIB,
              "cpu": int(limits.cpu), "nofile": limits.open_files, "core": 0}
    return [f"--{name}={value}:{value}" for name, value in values.items()]


@dataclass(frozen=True)
class Features:
    """What the installed bubblewrap can do (older releases lack ``--size`` and ``--disable-userns``)."""

    bwrap: str
    sized_tmpfs: bool
    disable_userns: bool


@functools.cache
def features() -> Features | None:
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return None
    text = subprocess.run([bwrap, "--help"], capture_output=True, text=True, timeout=10).stdout
    return Features(bwrap, "--size" in text, "--disable-userns" in text)


@dataclass(frozen=True)
class Sandbox:
    """How to run one kernel in a sandbox: its limits and the host folder holding the files the
    grader gives it read-only (connection file, passwd/group, the notebook's copy)."""

    limits: Limits
    host_dir: Path

    def command(self, kernel_argv: list[str], notebook: Path | None, info_fd: int | None) -> list[str]:
        """The full bwrap command line that runs ``kernel_argv`` inside the sandbox."""
        f = features()
        if f is None:
            raise SandboxUnavailable(why_unavailable() or "bubblewrap is not installed")
        size = self.limits.file_size * MIB
        args = [f.bwrap, "--unshare-all", "--unshare-user", "--die-with-parent", "--new-session",
                "--uid", str(UID), "--gid", str(UID), "--hostname", "grader"]
        if f.disable_userns:
            args.append("--disable-userns")
        args += system_args()
        args += ["--proc", "/proc", "--dev", "/dev", *tmpfs("/dev/shm", size, f.sized_tmpfs)]
        args += [*tmpfs("/tmp", size, f.sized_tmpfs), *tmpfs(HOME, size, f.sized_tmpfs),
                 *tmpfs(KERNEL_DIR, MIB, f.sized_tmpfs), "--dir", WORK]
        # Python and the package after the in-memory folders, which would hide them otherwise
        # (a virtual environment or a checkout under /tmp)
        for path in python_dirs():
            args += ["--ro-bind", str(path), str(path)]
        pkg = package_dir()
        args += ["--ro-bind", str(pkg), str(pkg)]
        args += [*tmpfs(str(key_dir()), 4096, f.sized_tmpfs), "--remount-ro", str(key_dir())]  # the key stays out
        args += ["--ro-bind", str(self.host_dir / "passwd"), "/etc/passwd",
                 "--ro-bind", str(self.host_dir / "group"), "/etc/group",
                 "--ro-bind", str(self.host_dir / "sandbox-connection.json"), f"{KERNEL_DIR}/connection.json"]
        if notebook is not None:
            args += ["--ro-bind", str(notebook), f"{WORK}/{notebook.name}"]
        args += ["--remount-ro", "/", "--remount-ro", "/dev", "--chdir", WORK, "--clearenv"]
        for name, value in self.environment(pkg).items():
            args += ["--setenv", name, value]
        if info_fd is not None:
            args += ["--info-fd", str(info_fd)]
        return [*args, "--", "prlimit", *limit_args(self.limits), "--", *kernel_argv]

    @staticmethod
    def environment(pkg: Path) -> dict[str, str]:
        bindir = str(Path(sys.executable).parent)
        return {"HOME": HOME, "USER": "learner", "LOGNAME": "learner", "LANG": "C.UTF-8",
                "PATH": f"{bindir}:/usr/local/bin:/usr/bin:/bin", "PYTHONPATH": str(pkg.parent),
                "PYTHONDONTWRITEBYTECODE": "1", "PYTHONNOUSERSITE": "" if user_site_used() else "1",
                "IPYTHONDIR": f"{HOME}/.ipython", "MPLBACKEND": "Agg", "MPLCONFIGDIR": f"{HOME}/.config/matplotlib",
                "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}

    def write_files(self, connection: KernelConnectionInfo) -> None:
        """The files bound read-only into the sandbox: who the learner is, and where the kernel
        listens (the same connection as the grader's, its sockets in /run/kernel)."""
        self.host_dir.mkdir(parents=True, exist_ok=True)
        (self.host_dir / "passwd").write_text(f"learner:x:{UID}:{UID}:learner:{HOME}:/bin/sh\n", encoding="utf-8")
        (self.host_dir / "group").write_text(f"learner:x:{UID}:\n", encoding="utf-8")
        inside = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in connection.items()}
        inside["ip"] = f"{KERNEL_DIR}/k"
        path = self.host_dir / "sandbox-connection.json"
        path.write_text(json.dumps(inside), encoding="utf-8")
        path.chmod(0o600)


def user_site_used() -> bool:
    import site

    return bool(site.ENABLE_USER_SITE) and any(p == site.getusersitepackages() for p in sys.path)


# ---- can it run here? ---------------------------------------------------------------------------------

@functools.cache
def why_unavailable() -> str | None:
    """None if a sandboxed Python starts here, else why not and what to do about it (tried once)."""
    if not sys.platform.startswith("linux"):
        return f"the sandbox needs Linux (bubblewrap); this is {sys.platform}"
    if shutil.which("bwrap") is None:
        return ("bubblewrap is not installed: install it (Debian and Ubuntu: apt-get install bubblewrap; "
                "Fedora: dnf install bubblewrap)")
    if shutil.which("prlimit") is None:
        return "prlimit (util-linux) is not installed"
    import tempfile

    with tempfile.TemporaryDirectory(prefix="hc-sandbox-check-") as tmp:
        box = Sandbox(Limits(), Path(tmp))
        box.write_files({"transport": "ipc", "ip": "", "key": b""})
        argv = box.command([sys.executable, "-c", "import handshake_course.grader.probe"], None, None)
        try:
            run = subprocess.run(argv, capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired) as err:
            return f"bubblewrap did not run: {err}"
    if run.returncode != 0:
        message = (run.stderr.strip().splitlines() or [f"exit status {run.returncode}"])[-1]
        hint = ""
        if "namespace" in message.lower() or "permission" in message.lower():
            hint = (" (user namespaces are off or restricted: on Debian sysctl kernel.unprivileged_userns_clone=1; "
                    "on Ubuntu 24.04 and later, AppArmor must allow bwrap; in a container, run with user namespaces "
                    "allowed)")
        return f"bubblewrap could not start a sandbox: {message}{hint}"
    return None


def caveats() -> list[str]:
    """What the sandbox cannot enforce on this machine, though it runs."""
    found = []
    f = features()
    if f is not None and not f.sized_tmpfs:
        found.append("this bubblewrap (older than 0.7) cannot limit the size of the sandbox's in-memory folders")
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        found.append("grading as root: Linux does not apply the process limit (--processes) to root; grade as an "
                     "ordinary user for it")
    return found


# ---- jupyter_client's side ------------------------------------------------------------------------------

def read_info(fd: int) -> dict[str, Any]:
    """bwrap's ``--info-fd`` JSON: read until it parses (or the pipe closes), then close the pipe."""
    data = b""
    with os.fdopen(fd, "rb", buffering=0) as pipe:
        while chunk := pipe.read(4096):
            data += chunk
            try:
                return dict(json.loads(data))
            except ValueError:
                continue
    return dict(json.loads(data or b"{}"))


class SandboxProvisioner(LocalProvisioner):  # type: ignore[misc]
    """Starts the kernel inside a ``Sandbox`` and tells jupyter_client where its sockets are.

    The kernel manager writes its connection file as usual (transport ``ipc``); this provisioner
    gives the kernel a copy with its sockets in /run/kernel, starts bwrap, learns the sandbox's
    PID from bwrap's ``--info-fd`` and returns the same connection with the sockets' path as seen
    from outside (``/proc/<pid>/root/run/kernel``)."""

    sandbox: Sandbox | None = None
    notebook: Path | None = None

    async def launch_kernel(self, cmd: list[str], **kwargs: Any) -> KernelConnectionInfo:
        assert self.sandbox is not None
        self.sandbox.write_files(self.connection_info)
        kernel_argv = [f"{KERNEL_DIR}/connection.json" if arg == self.parent.connection_file else arg for arg in cmd]
        read, write = os.pipe()
        try:
            argv = self.sandbox.command(kernel_argv, self.notebook, write)
            self.process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                            stderr=subprocess.DEVNULL, pass_fds=(write,), start_new_session=True)
        finally:
            os.close(write)
        try:
            child = int(read_info(read)["child-pid"])
        except (ValueError, KeyError, TypeError):
            self.process.kill()
            raise SandboxUnavailable(f"the sandbox did not start ({why_unavailable() or 'bwrap gave no pid'})") from None
        self.pid = self.process.pid
        self.pgid = os.getpgid(self.process.pid) if self.process.poll() is None else None
        self.connection_info = {**self.connection_info, "ip": f"/proc/{child}/root{KERNEL_DIR}/k"}
        return self.connection_info
