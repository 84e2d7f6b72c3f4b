"""The Jedi oracle for resolved references (crates/codedb-commands/tests/references.rs).

    python3 jedi_refs.py ROOT SAMPLE
    python3 jedi_refs.py --goto ROOT < SITES

Lists the classes, functions and methods of every .py file under ROOT with Python's own
`ast` (qualified names as codedb gives them: nested names joined by "."), picks SAMPLE of
them (every k-th in path and line order, so the sample is stable), and asks Jedi
(`Script.get_references`, project scope: ROOT) for the references to each. Prints one JSON
object per definition: its path, qualified name, the 1-based line and byte column of its
name, and its references as [path, line, byte column] (1-based), the definition's own name
left out, and so are the names of other definitions with the same path and qualified name
(an `@overload`, a definition under `if`/`else`): to codedb these are one definition,
PATH:QUALNAME, to Jedi each is a name of its own. Jedi sees ROOT and the standard library
only, never site-packages. Runs on two processes.

`get_references` stops inferring once one call has spent Jedi's execution limits (its
inference state is shared by the whole search), so on a large file it misses references
that `goto` at the same site finds (`self.stream.expect(...)`, late in jinja2's parser.py).
With `--goto`, each line of standard input is a site `[path, line, byte column]` (1-based)
and each answer, one JSON object per site in order, is where `Script.goto(follow_imports=
True)` at that site lands, each site in a fresh Script: `{"site": [...], "targets": [[path,
line], ...]}`.
"""
import ast
import json
import os
import sys
from multiprocessing import Pool

import jedi


def definitions(root):
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if not name.endswith(".py"):
                continue
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, root).replace(os.sep, "/")
            with open(path, encoding="utf-8") as f:
                source = f.read()
            lines = source.splitlines()
            tree = ast.parse(source)

            def visit(node, prefix):
                for child in ast.iter_child_nodes(node):
                    if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                        qual = prefix + child.name
                        # The name's position: after `def `/`class ` on the header line.
                        line = child.lineno
                        text = lines[line - 1]
                        keyword = "class " if isinstance(child, ast.ClassDef) else "def "
                        col = text.find(keyword + child.name)
                        if col < 0:
                            col = text.find(child.name)
                        else:
                            col += len(keyword)
                        out.append((rel, qual, line, col))
                        visit(child, qual + ".")
                    else:
                        visit(child, prefix)

            visit(tree, "")
    return out


def byte_col(lines_cache, path, line, col):
    """Jedi's 0-based character column as codedb's 1-based byte column."""
    text = lines_cache[path][line - 1] if line - 1 < len(lines_cache[path]) else ""
    return len(text[:col].encode("utf-8")) + 1


ROOT = None
PROJECT = None
LINES = {}
# (path, qualified name) -> the name positions of its definitions, as (path, line, byte col).
SAME = {}


def init(root, same):
    global ROOT, PROJECT, SAME
    ROOT = root
    SAME = same
    # The corpus and the standard library only: an installed copy of the same package in
    # site-packages (jinja2 often is) would otherwise win, and Jedi would resolve the
    # corpus's names into that copy instead of the files under ROOT.
    stdlib = [p for p in sys.path if p and "site-packages" not in p and "dist-packages" not in p]
    PROJECT = jedi.Project(
        root,
        sys_path=[root] + stdlib,
        smart_sys_path=False,
        load_unsafe_extensions=False,
    )


def lines_of(rel):
    if rel not in LINES:
        with open(os.path.join(ROOT, rel), encoding="utf-8") as f:
            LINES[rel] = f.read().splitlines()
    return LINES


def references(d):
    rel, qual, line, col = d
    path = os.path.join(ROOT, rel)
    with open(path, encoding="utf-8") as f:
        source = f.read()
    found = set()
    # Jedi's inference subprocess sometimes dies under load ("Ran out of input" reading its
    # answer): asked again with a fresh Script, up to three times, then reported.
    for attempt in range(3):
        try:
            script = jedi.Script(source, path=path, project=PROJECT)
            names = script.get_references(line, col, scope="project", include_builtins=False)
            break
        except Exception as e:  # Jedi's own failure.
            error = str(e)
    else:
        return {"path": rel, "qualname": qual, "line": line, "column": 0, "refs": [], "error": error}
    for n in names:
        if n.module_path is None or n.line is None:
            continue
        try:
            r = os.path.relpath(str(n.module_path), ROOT).replace(os.sep, "/")
        except ValueError:
            continue
        if r.startswith(".."):
            continue
        c = byte_col(lines_of(r), r, n.line, n.column)
        found.add((r, n.line, c))
    own = (rel, line, byte_col(lines_of(rel), rel, line, col))
    found.discard(own)
    for other in SAME.get((rel, qual), ()):
        found.discard(other)
    return {
        "path": rel,
        "qualname": qual,
        "line": line,
        "column": own[2],
        "refs": sorted(found),
    }


def goto(site):
    rel, line, bcol = site
    path = os.path.join(ROOT, rel)
    with open(path, encoding="utf-8") as f:
        source = f.read()
    text = source.splitlines()[line - 1]
    col = len(text.encode("utf-8")[: bcol - 1].decode("utf-8", "replace"))
    targets = set()
    names = []
    for attempt in range(3):
        try:
            names = jedi.Script(source, path=path, project=PROJECT).goto(line, col, follow_imports=True)
            break
        except Exception:  # Jedi's own failure (asked again; then no target).
            names = []
    for n in names:
        if n.module_path is None or n.line is None:
            continue
        r = os.path.relpath(str(n.module_path), ROOT).replace(os.sep, "/")
        if not r.startswith(".."):
            targets.add((r, n.line))
    return {"site": site, "targets": sorted(targets)}


def main():
    if sys.argv[1] == "--goto":
        sites = [json.loads(l) for l in sys.stdin if l.strip()]
        with Pool(2, initializer=init, initargs=(os.path.abspath(sys.argv[2]), {})) as pool:
            for result in pool.imap(goto, sites, chunksize=8):
                print(json.dumps(result), flush=True)
        return
    root = os.path.abspath(sys.argv[1])
    sample = int(sys.argv[2])
    defs = definitions(root)
    step = max(1, len(defs) // sample)
    picked = defs[::step][:sample]
    global ROOT
    ROOT = root
    same = {}
    for rel, qual, line, col in defs:
        same.setdefault((rel, qual), []).append((rel, line, byte_col(lines_of(rel), rel, line, col)))
    with Pool(2, initializer=init, initargs=(root, same)) as pool:
        for result in pool.imap(references, picked, chunksize=4):
            print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
