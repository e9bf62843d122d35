"""Build handshake_course/model/kernel_index.json: which kernel functions and nstat counters exist in
each modelled release, and where, read from the kernel source trees themselves.

    python tools/build_kernel_index.py 2.6.32=PATH 3.10=PATH 5.15=PATH 6.18=PATH

Each PATH is a git repository (a bare mirror is fine) whose HEAD is that release (its Makefile says
which). The names looked up are every function of the model's trace paths, every function the
lessons and exercises link to on elixir.bootlin.com, and every counter the model or a lesson names.
A function is found where a line at the start of a C line declares it and the declaration goes on
to a body (``{``), or where a macro of that name is defined; a counter where ``net/ipv4/proc.c``
lists it (``SNMP_MIB_ITEM``). Names not found are listed as absent, so absence is stated, not
implied. tests/test_kernel_index.py holds the model and the lessons to this file.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from handshake_course.model import VERSIONS, Kernel, actions  # noqa: E402

OUT = ROOT / "handshake_course" / "model" / "kernel_index.json"
FOLDERS = ("net", "include", "kernel")
ELIXIR = re.compile(r"elixir\.bootlin\.com/linux/v[0-9.]+/A/ident/([A-Za-z0-9_]+)")
COUNTER = re.compile(r"\b((?:TcpExt|Tcp)[A-Z][A-Za-z0-9]+)\b")
EXTRA_FUNCTIONS = ("syn_flood_warning", "tcp_v4_rtx_synack", "inet_csk_reqsk_queue_young", "tcp_synack_timer")


def git(tree: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(tree), *args], capture_output=True, text=True, check=False).stdout


def release(tree: Path) -> str:
    make = git(tree, "show", "HEAD:Makefile")
    parts = [re.search(rf"^{k} = (\S*)", make, re.M) for k in ("VERSION", "PATCHLEVEL", "SUBLEVEL")]
    extra = re.search(r"^EXTRAVERSION = (\S*)", make, re.M)
    return ".".join(p.group(1) for p in parts if p) + (extra.group(1) if extra else "")


def course_texts() -> str:
    files = [*ROOT.glob("notebooks/*.ipynb"), *ROOT.glob("exercises/source/*/*.ipynb"),
             *ROOT.glob("handshake_course/**/*.py")]
    return "\n".join(p.read_text(encoding="utf-8") for p in files)


def wanted_functions() -> list[str]:
    names = {f for entry in actions._TABLE.values() for path in entry[2:] for f in path.split()}
    names |= {f for v in VERSIONS for a in actions.actions_for(Kernel(v)) for f in a.path}
    names |= set(ELIXIR.findall(course_texts())) | set(EXTRA_FUNCTIONS)
    return sorted(names)


def wanted_counters() -> list[str]:
    names = set(actions.SERVER_COUNTERS) | set(actions.CLIENT_COUNTERS) | set(COUNTER.findall(course_texts()))
    return sorted(n for n in names if n not in ("TcpExt", "Tcp"))


def definitions(tree: Path, names: list[str]) -> dict[str, str]:
    """name -> 'path:line' of the definition of each function or macro found (one git grep in all)."""
    words = "|".join(names)
    hits = git(tree, "grep", "-n", "-E", rf"^([A-Za-z_].*[^A-Za-z0-9_]|)({words})[[:space:]]*\(|"
               rf"^#[[:space:]]*define[[:space:]]+({words})\(", "HEAD", "--", *FOLDERS)
    found: dict[str, str] = syscalls(tree, names)
    files: dict[str, list[str]] = {}
    for hit in hits.splitlines():
        _, path, line, text = hit.split(":", 3)
        for name in names:
            if name in found or not re.search(rf"(^|[^A-Za-z0-9_]){name}\s*\(", text):
                continue
            if text.lstrip().startswith("#"):
                found[name] = f"{path}:{line}"
            elif path.endswith((".c", ".h")) and not re.search(r"\b(return|if|while|for)\b", text.split(name)[0]):
                lines = files.setdefault(path, git(tree, "show", f"HEAD:{path}").splitlines())
                if opens_a_body(lines, int(line) - 1, text.index(name) + len(name)):
                    found[name] = f"{path}:{line}"
    return found


def syscalls(tree: Path, names: list[str]) -> dict[str, str]:
    """sys_<name> -> 'path:line' of its SYSCALL_DEFINEn(<name>, ...) (what the macro expands to)."""
    wanted = [n.removeprefix("sys_") for n in names if n.startswith("sys_")]
    if not wanted:
        return {}
    hits = git(tree, "grep", "-n", "-E", rf"^SYSCALL_DEFINE[0-6]\(({'|'.join(wanted)}),", "HEAD", "--", *FOLDERS)
    found = {}
    for hit in hits.splitlines():
        _, path, line, text = hit.split(":", 3)
        found.setdefault("sys_" + text.split("(", 1)[1].split(",", 1)[0], f"{path}:{line}")
    return found


def opens_a_body(lines: list[str], first: int, column: int) -> bool:
    """Whether the declaration starting at ``lines[first][column:]`` goes on to a body ``{``."""
    rest = "\n".join(lines[first:first + 30])[column:]
    depth = 0
    for ch in rest:
        depth += ch == "("
        depth -= ch == ")"
        if depth == 0 and ch in "{;=":
            return ch == "{"
    return False


def counter_site(tree: Path, counter: str) -> str | None:
    """'net/ipv4/proc.c:line' where /proc/net/netstat or /proc/net/snmp lists ``counter``."""
    proc = git(tree, "show", "HEAD:net/ipv4/proc.c").splitlines()
    short = counter.removeprefix("TcpExt") if counter.startswith("TcpExt") else counter.removeprefix("Tcp")
    start = "snmp4_net_list" if counter.startswith("TcpExt") else "snmp4_tcp_list"
    inside = False
    for number, text in enumerate(proc, 1):
        if start in text and "[]" in text:
            inside = True
        elif inside and text.startswith("};"):
            inside = False
        elif inside and re.search(rf'SNMP_MIB_ITEM\("{short}",', text):
            return f"net/ipv4/proc.c:{number}"
    return None


def index(tree: Path, functions: list[str], counters: list[str]) -> dict[str, object]:
    defined = definitions(tree, functions)
    found = {name: defined.get(name) for name in functions}
    sites = {name: counter_site(tree, name) for name in counters}
    head = git(tree, "rev-parse", "HEAD").strip()
    return {
        "release": release(tree),
        "tree": f"{git(tree, 'config', '--get', 'remote.origin.url').strip() or tree.name} @ {head[:12]}",
        "functions": {n: s for n, s in found.items() if s},
        "absent_functions": sorted(n for n, s in found.items() if not s),
        "counters": {n: s for n, s in sites.items() if s},
        "absent_counters": sorted(n for n, s in sites.items() if not s),
    }


def main(argv: list[str]) -> int:
    trees = dict(arg.split("=", 1) for arg in argv)
    functions, counters = wanted_functions(), wanted_counters()
    result = {version: index(Path(path), functions, counters) for version, path in sorted(trees.items())}
    nowhere = [c for c in counters if all(c in r["absent_counters"] for r in result.values())]  # not counters
    for r in result.values():
        r["absent_counters"] = [c for c in r["absent_counters"] if c not in nowhere]
    OUT.write_text(json.dumps(result, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    for version, data in result.items():
        print(f"{version} ({data['release']}): {len(data['functions'])} functions, absent {data['absent_functions']}")
        print(f"    counters absent: {data['absent_counters']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
