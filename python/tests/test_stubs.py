"""The package's type stubs (talc/__init__.pyi) declare what the module defines, and no more.

(Docstrings and Python types in help() are test_conventions.py's.)"""

import ast
import pathlib

import talc

# Declared for type checkers only: the buffer protocol, which Python 3.12 names __buffer__.
STUB_ONLY = {"Block": {"__buffer__"}}
# Dunders the stubs declare where the module defines them (the rest are object's own).
DUNDERS = {"__len__", "__iter__", "__next__", "__enter__", "__exit__", "__getstate__", "__setstate__"}


def stub_tree() -> ast.Module:
    stub = pathlib.Path(talc.__file__).with_name("__init__.pyi")
    assert stub.is_file(), f"no stubs beside {talc.__file__}"
    assert stub.with_name("py.typed").is_file(), "no py.typed beside the stubs"
    return ast.parse(stub.read_text())


def public(names) -> set:
    return {n for n in names if not n.startswith("_") or n in DUNDERS}


def test_the_stubs_declare_every_public_name_and_no_other():
    tree = stub_tree()
    module_level = set()
    classes = {}
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            classes[node.name] = (
                {n.name for n in node.body if isinstance(n, ast.FunctionDef)}
                | {n.target.id for n in node.body if isinstance(n, ast.AnnAssign)})
            module_level.add(node.name)
        elif isinstance(node, ast.FunctionDef):
            module_level.add(node.name)
        elif isinstance(node, ast.AnnAssign):
            module_level.add(node.target.id)
    exported = {n for n in dir(talc) if not n.startswith("_")} | {"__version__"}
    declared = {n for n in module_level if not n.startswith("_") or n == "__version__"}
    assert declared == exported
    for name in ("Heap", "Block", "Ring"):
        cls = getattr(talc, name)
        has = public(vars(cls))
        assert classes[name] - STUB_ONLY.get(name, set()) == has, name

