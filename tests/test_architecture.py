"""The import rules of docs/architecture.md, read from the source of every module under bot/.

    1. bot.engine imports no service, channel, console, fake, CLI or bench module, and no
       database, web or chat-platform library: text in, Referral out
    2. bot.channels.line and bot.channels.telegram import neither each other nor the server
    3. the CLI only calls the library: nothing outside bot.cli imports bot.cli
    4. nothing but the CLI imports bot.bench
    5. packages import each other one way only, at every level; bot.service.server, which
       wires the channels and the console onto the service, counts as a layer of its own

Every import counts: at the top of a module, inside a function (a lazy import), under
TYPE_CHECKING, and a bot module named in a string where the module calls import_module.
The test_*_is_caught tests break each rule in a copy of the sources: the checker must say so.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping

from tests.support import ROOT

ENGINE_MAY_NOT_IMPORT = ("bot.service", "bot.channels", "bot.console", "bot.fakes", "bot.cli", "bot.bench")
# Databases, web servers and clients, chat platforms, the network itself.
NOT_IN_THE_ENGINE = (
    "sqlalchemy", "sqlmodel", "alembic", "psycopg", "psycopg2", "sqlite3", "starlette", "uvicorn", "uvloop",
    "httptools", "httpx", "aiohttp", "requests", "urllib3", "urllib.request", "http.client", "http.server",
    "socket", "ssl", "linebot", "telegram", "prometheus_client", "jinja2", "argon2", "multipart",
)
CHANNELS = ("bot.channels.line", "bot.channels.telegram")
SERVER = "bot.service.server"


def sources(root=ROOT) -> dict[str, str]:
    """{dotted module name: source} for every module under root/bot."""
    out = {}
    for path in sorted((root / "bot").rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path.read_text(encoding="utf-8")
    return out


def imports(modules: Mapping[str, str]) -> dict[str, set[str]]:
    """{module: what it imports}: bot modules by the module's name, other libraries as written."""
    packages = {name for name in modules if _is_package(name, modules)}

    def resolve(name: str) -> str:
        """bot.engine.catalogue.model.Service -> bot.engine.catalogue.model; others as they are."""
        if not name.startswith("bot"):
            return name
        while name not in modules and "." in name:
            name = name.rpartition(".")[0]
        return name

    out: dict[str, set[str]] = {}
    for module, source in modules.items():
        tree = ast.parse(source)
        found: set[str] = set()
        calls_import_module = False
        for node in ast.walk(tree):  # every node: imports inside functions and TYPE_CHECKING too
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:  # from . import x, from ..y import z
                    here = module if module in packages else module.rpartition(".")[0]
                    for _ in range(node.level - 1):
                        here = here.rpartition(".")[0]
                    base = f"{here}.{base}" if base else here
                for alias in node.names:
                    # `from pkg import sub` imports the module pkg.sub; `from mod import name`, mod
                    found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base)
            elif isinstance(node, ast.Call) and _name(node.func) in ("import_module", "__import__"):
                calls_import_module = True
            elif isinstance(node, ast.Name | ast.Attribute) and _name(node) == "import_module":
                calls_import_module = True  # passed on: Thread(target=importlib.import_module, ...)
        if calls_import_module:
            found.update(node.value for node in ast.walk(tree)
                         if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in modules)
        out[module] = {resolve(name) for name in found} - {module, "bot"}
    return out


def violations(modules: Mapping[str, str]) -> list[str]:
    """Every broken rule, one line each: 'module imports other: rule'."""
    graph = imports(modules)
    out = []
    for module, imported in sorted(graph.items()):
        for other in sorted(imported):
            if _within(module, "bot.engine"):
                if any(_within(other, p) for p in ENGINE_MAY_NOT_IMPORT):
                    out.append(f"{module} imports {other}: the engine imports no service, channel, console, "
                               "fake, CLI or bench module")
                if any(_within(other, lib) for lib in NOT_IN_THE_ENGINE):
                    out.append(f"{module} imports {other}: the engine uses no database, web or platform library")
            if module in CHANNELS and (other in CHANNELS or _within(other, SERVER)):
                out.append(f"{module} imports {other}: a channel imports neither the other channel nor the server")
            if _within(other, "bot.cli") and not _within(module, "bot.cli"):
                out.append(f"{module} imports {other}: nothing in the library imports the CLI")
            if _within(other, "bot.bench") and not (_within(module, "bot.cli") or _within(module, "bot.bench")):
                out.append(f"{module} imports {other}: only the CLI imports the bench")
    for package in sorted(name for name in modules if _is_package(name, modules)):
        for cycle in _cycles(graph, package):
            out.append(f"{' -> '.join(cycle)}: packages import each other one way only")
    return out


def _cycles(graph: Mapping[str, set[str]], package: str) -> list[list[str]]:
    """Import cycles between the parts of `package` (its subpackages and modules; its own
    __init__ is a part too), one per set of parts that import each other, as a path."""

    def part(module: str) -> str | None:
        if module == package:
            return f"{package}.__init__"
        if not module.startswith(package + "."):
            return None
        if package == "bot" and _within(module, SERVER):
            return SERVER  # the layer that wires the channels and the console onto the service
        return f"{package}.{module[len(package) + 1:].split('.')[0]}"

    edges: dict[str, set[str]] = {}
    for module, imported in graph.items():
        a = part(module)
        for other in imported:
            b = part(other)
            if a and b and a != b:
                edges.setdefault(a, set()).add(b)
    cycles, done = [], set()
    for start in sorted(edges):
        if start in done:
            continue
        # a path back to start through parts not yet reported
        stack, seen = [(start, [start])], {start}
        while stack:
            node, path = stack.pop()
            for nxt in sorted(edges.get(node, ())):
                if nxt == start:
                    cycles.append([*path, start])
                    done.update(path)
                    stack = []
                    break
                if nxt not in seen and nxt not in done:
                    seen.add(nxt)
                    stack.append((nxt, [*path, nxt]))
    return cycles


def _within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def _is_package(name: str, modules: Mapping[str, str]) -> bool:
    return any(other.startswith(name + ".") for other in modules)


def _name(node: ast.expr) -> str | None:
    return node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else None


SOURCES = sources()


# -- the code as it is --------------------------------------------------------------------------


def test_the_code_keeps_the_import_rules():
    assert violations(SOURCES) == []


def test_the_checker_reads_every_module_and_its_imports():
    graph = imports(SOURCES)
    assert len(graph) == len(list((ROOT / "bot").rglob("*.py")))
    assert {"bot.engine.router", "bot.service.desk", "bot.channels.line", "bot.cli", "bot.bench"} <= graph.keys()
    assert "bot.engine.router" in graph["bot.service.desk"]  # from bot.engine import router
    assert "bot.service.desk" in graph["bot.channels.line"]
    assert "bot.channels.line" in graph[SERVER]  # a lazy import, inside create_app
    assert "bot.bench" in graph["bot.cli"]  # by name, through importlib.import_module
    assert "sqlalchemy" in graph["bot.service.store"]
    assert "bot.engine.engine" in graph["bot.engine"]  # the lazy re-export of Engine


# -- each rule, broken on purpose ---------------------------------------------------------------


def broken(module: str, line: str) -> list[str]:
    """The violations found when `line` is added to `module`."""
    return violations({**SOURCES, module: SOURCES[module] + "\n" + line + "\n"})


def test_a_channel_imported_by_the_router_is_caught():
    found = broken("bot.engine.router", "from bot.channels import line")
    assert any(v.startswith("bot.engine.router imports bot.channels.line: the engine") for v in found)


def test_a_lazy_database_import_in_the_engine_is_caught():
    found = broken("bot.engine.understand.matcher", "def f():\n    from bot.service.store import Store\n    return Store")
    assert any(v.startswith("bot.engine.understand.matcher imports bot.service.store") for v in found)
    found = broken("bot.engine.catalogue.model", "def f():\n    import sqlalchemy.orm")
    assert found == ["bot.engine.catalogue.model imports sqlalchemy.orm: the engine uses no database, web or "
                     "platform library"]


def test_an_import_only_for_type_checking_counts_too():
    found = broken("bot.engine.render", "if TYPE_CHECKING:\n    from bot.service.desk import Desk")
    assert any(v.startswith("bot.engine.render imports bot.service.desk") for v in found)


def test_one_channel_importing_the_other_or_the_server_is_caught():
    assert "bot.channels.line imports bot.channels.telegram: a channel imports neither the other channel " \
           "nor the server" in broken("bot.channels.line", "from bot.channels import telegram")
    found = broken("bot.channels.telegram", "def f():\n    from bot.service.server import create_app")
    assert any(v.startswith("bot.channels.telegram imports bot.service.server: a channel") for v in found)


def test_the_library_importing_the_cli_is_caught():
    found = broken("bot.service.desk", "from bot.cli import main")
    assert "bot.service.desk imports bot.cli: nothing in the library imports the CLI" in found


def test_the_bench_imported_outside_the_cli_is_caught():
    found = broken("bot.service.server", "import importlib\nimportlib.import_module('bot.bench.routing')")
    assert "bot.service.server imports bot.bench.routing: only the CLI imports the bench" in found


def test_a_cycle_between_packages_is_caught():
    # The console uses the fakes (console/testing.py); the fakes using the console closes a loop.
    found = broken("bot.fakes.line", "from bot.console.testing import served_console")
    assert found == ["bot.console -> bot.fakes -> bot.console: packages import each other one way only"]
    # inside a package too: the catalogue's model importing its importer
    found = broken("bot.engine.catalogue.model", "from bot.engine.catalogue.importer import merge")
    assert found == ["bot.engine.catalogue.build -> bot.engine.catalogue.model -> bot.engine.catalogue.importer -> "
                     "bot.engine.catalogue.build: packages import each other one way only"]


def test_the_server_is_a_layer_of_its_own_but_the_rest_of_the_service_is_not():
    # Were the Desk to import a channel, service and channels would import each other.
    found = broken("bot.service.desk", "from bot.channels import words")
    assert "bot.channels -> bot.service -> bot.channels: packages import each other one way only" in found
