"""The package's layers: imports point down, function-local imports included, and no module
takes part in a cycle. A new module must be placed in a layer below (the README's picture of
the training core shows the same list)."""

import ast
import fnmatch
import shutil
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "gan_space"

# Top to bottom. A module may import its own layer and those below; never one above. Patterns
# are module names (fnmatch); the first match places a module.
LAYERS = [
    ("ui", ["gan_space.ui", "gan_space.ui.*"]),  # Gradio only: tabs, event wiring, sessions
    ("cli", ["gan_space.__main__", "gan_space.cli"]),  # the command line, made from the library's tables
    ("hosting", ["gan_space.hosting", "gan_space.hosting.*"]),  # where the app runs: a Space's hardware, ZeroGPU slices
    ("public API", ["gan_space"]),  # gan_space/__init__.py: names imported on first use
    ("pipelines", ["gan_space.pipeline", "gan_space.lab", "gan_space.directions", "gan_space.export",
                   "gan_space.classification", "gan_space.frame_comparison", "gan_space.sound_pipeline"]),
    # export and classification: a generator's pictures as data; frame_comparison: next-frame models side by
    # side; sound_pipeline: a sound generator's pictures as sound
    ("hub", ["gan_space.hub", "gan_space.hub.*"]),  # push, pull, cards; a local folder or a Hub id
    ("jobs", ["gan_space.training", "gan_space.diagnostics", "gan_space.held_out", "gan_space.translation",
              "gan_space.vocoder_training",
              "gan_space.networks"]),
    ("runs", ["gan_space.checkpoints"]),  # the one module that reads and writes a run folder
    ("models", ["gan_space.models", "gan_space.models.*"]),  # network families and their registry
    ("tasks", ["gan_space.tasks", "gan_space.tasks.*"]),  # what a run learns to make
    ("metrics", ["gan_space.metrics", "gan_space.metrics.*"]),  # what is measured for which data or task
    ("objectives", ["gan_space.objectives", "gan_space.objectives.*"]),  # the update steps
    ("parts", ["gan_space.data", "gan_space.data.*", "gan_space.sound", "gan_space.sound.*", "gan_space.datasource",
               "gan_space.pairs", "gan_space.augment", "gan_space.losses", "gan_space.scores", "gan_space.scores.*",
               "gan_space.image_metrics", "gan_space.sampling", "gan_space.devices", "gan_space.distributed",
               "gan_space.ema", "gan_space.randomness", "gan_space.schedule"]),
    ("names", ["gan_space.names", "gan_space.generator_output", "gan_space.registry"]),  # torch-free
]


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def import_graph(root: Path = PACKAGE, package_runs: bool = False) -> dict[str, set[str]]:
    """Module -> the package's modules it imports, wherever the import statement is (module
    level or inside a function). `from pkg import name` points at pkg.name when that is a
    module, else at pkg; with `package_runs`, at pkg too (Python runs pkg/__init__.py first),
    which is what a loop through a package's __init__ needs to be seen."""
    files = {module_name(path, root): path for path in root.rglob("*.py")}
    graph = {}
    for name, path in files.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        edges = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - node.level + 1]
                    source = ".".join(base + ([node.module] if node.module else []))
                else:
                    source = node.module or ""
                targets = [f"{source}.{alias.name}" if f"{source}.{alias.name}" in files else source
                           for alias in node.names] + ([source] if package_runs else [])
            else:
                continue
            edges.update(target for target in targets if target in files and target != name)
        graph[name] = edges
    return graph


def layer_of(module: str) -> int | None:
    for index, (_, patterns) in enumerate(LAYERS):
        if any(fnmatch.fnmatchcase(module, pattern) for pattern in patterns):
            return index
    return None


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    problems = []
    for module, targets in sorted(graph.items()):
        for target in sorted(targets):
            if layer_of(module) is None or layer_of(target) is None:
                continue  # test_every_module_has_a_layer names these
            if layer_of(target) < layer_of(module):
                problems.append(f"{module} ({LAYERS[layer_of(module)][0]}) imports {target} "
                                f"({LAYERS[layer_of(target)][0]}, a layer above)")
    return problems


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index, low, on_stack, stack, found = {}, {}, set(), [], []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_every_module_has_a_layer():
    unplaced = [module for module in import_graph() if layer_of(module) is None]
    assert not unplaced, f"place these modules in a layer of tests/test_layers.py (and the README): {unplaced}"


def test_imports_point_down_the_layers():
    problems = upward_imports(import_graph())
    assert not problems, "imports that point up:\n" + "\n".join(problems)


def test_no_import_cycles():
    found = cycles(import_graph(package_runs=True))
    assert not found, f"import cycles: {found}"


def test_the_checks_see_a_function_local_edge_up_and_its_cycle(tmp_path):
    """A deliberate upward edge, hidden in a function of a copy of the package (a model asking
    the trainer for something, as unet once asked translation.py for its objective), fails both
    checks."""
    copy = tmp_path / "gan_space"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__", "builtin"))
    unet = copy / "models" / "unet.py"
    unet.write_text(unet.read_text() + "\n\ndef _sneaky():\n    from ..training import Trainer\n\n    return Trainer\n")
    graph = import_graph(copy)
    assert "gan_space.training" in graph["gan_space.models.unet"]
    assert any(p.startswith("gan_space.models.unet (models) imports gan_space.training") for p in upward_imports(graph))
    assert any({"gan_space.models.unet", "gan_space.training"} <= set(c) for c in cycles(graph))


@pytest.mark.parametrize("source, expected", [
    ("from . import checkpoints", "gan_space.checkpoints"),
    ("from .models import get_family", "gan_space.models"),
    ("from .models.registry import DataSpec", "gan_space.models.registry"),
    ("import gan_space.sampling", "gan_space.sampling"),
])
def test_import_forms_are_resolved(tmp_path, source, expected):
    copy = tmp_path / "gan_space"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__", "builtin"))
    (copy / "probe.py").write_text(f"def late():\n    {source}\n")
    assert expected in import_graph(copy)["gan_space.probe"]
