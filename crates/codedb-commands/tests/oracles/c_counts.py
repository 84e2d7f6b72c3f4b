# Counts C and C++ definitions by codedb's rules (README, "What the indexer counts") with
# clang's own front end, libclang (PyPI's `libclang`, which ships libclang.so): for every
# file named on stdin ("c<TAB>path" or "cpp<TAB>path", relative to the root given as the
# first argument; further arguments go to clang), one JSON object on stdout:
# {"path": {"counts": [classes, functions, methods, imports], "skipped": [[first, last], ...],
#           "defs": [[kind, line], ...]}}
# where `skipped` are the lines of the preprocessor branches clang did not compile
# (inactive #if / #ifdef / #else branches) and `defs` what was counted, by line.
#
# Only what is spelled in the file counts, not what includes or macros bring: a definition
# counts when its name is written in the file itself (as written, or as a macro's argument:
# `BZ_API(name)(...)`), not in a header and not in a macro's body or made by `##`.
#
# classes: struct, union, enum (and in C++ class) definitions with a name, class template
#   definitions and their explicit and partial specializations; an unnamed one that a
#   typedef names (`typedef struct {...} X`) is one class;
# methods (C++): definitions of member functions, constructors, destructors, conversion
#   operators and member function templates (`= default` and `= delete` ones too), in the
#   class body or outside it (`A::f`);
# functions: other function definitions (function templates, friend functions defined in a
#   class too);
# imports: each #include.
import json
import os
import sys
from ctypes import POINTER, Structure, byref, c_uint, c_void_p

import clang.cindex as ci
from clang.cindex import CursorKind as K

CLASS_KINDS = {
    K.STRUCT_DECL,
    K.UNION_DECL,
    K.ENUM_DECL,
    K.CLASS_DECL,
    K.CLASS_TEMPLATE,
    K.CLASS_TEMPLATE_PARTIAL_SPECIALIZATION,
}
METHOD_KINDS = {K.CXX_METHOD, K.CONSTRUCTOR, K.DESTRUCTOR, K.CONVERSION_FUNCTION}
RECORD_PARENTS = CLASS_KINDS - {K.ENUM_DECL}


class SourceRangeList(Structure):
    _fields_ = [("count", c_uint), ("ranges", POINTER(ci.SourceRange))]


def setup_lib():
    lib = ci.conf.lib
    lib.clang_getSpellingLocation.argtypes = [
        ci.SourceLocation,
        POINTER(c_void_p),
        POINTER(c_uint),
        POINTER(c_uint),
        POINTER(c_uint),
    ]
    lib.clang_getSpellingLocation.restype = None
    lib.clang_getSkippedRanges.argtypes = [c_void_p, c_void_p]
    lib.clang_getSkippedRanges.restype = POINTER(SourceRangeList)
    lib.clang_disposeSourceRangeList.argtypes = [POINTER(SourceRangeList)]
    lib.clang_getFile.argtypes = [c_void_p, ci.c_interop_string]
    lib.clang_getFile.restype = c_void_p
    lib.clang_getFileName.argtypes = [c_void_p]
    lib.clang_getFileName.restype = ci._CXString
    lib.clang_getFileName.errcheck = ci._CXString.from_result
    return lib


def spelling(lib, loc):
    """(file name or None, offset) where the token at `loc` is spelled."""
    f = c_void_p()
    line, col, off = c_uint(), c_uint(), c_uint()
    lib.clang_getSpellingLocation(loc, byref(f), byref(line), byref(col), byref(off))
    if not f.value:
        return None, off.value
    return lib.clang_getFileName(f), off.value


def count_file(lib, index, root, lang, rel, extra):
    path = os.path.join(root, rel)
    args = ["-x", "c" if lang == "c" else "c++"]
    args += ["-std=gnu11"] if lang == "c" else ["-std=gnu++17"]
    args += ["-I", os.path.dirname(path), "-ferror-limit=0", "-w"] + extra
    tu = index.parse(
        path,
        args=args,
        options=ci.TranslationUnit.PARSE_DETAILED_PROCESSING_RECORD
        | ci.TranslationUnit.PARSE_INCOMPLETE,
    )
    main = tu.spelling
    real_main = os.path.realpath(main)

    def in_main(name):
        return name is not None and os.path.realpath(name) == real_main

    with open(path, "rb") as fh:
        text = fh.read()

    def spelled_here(cursor):
        # libclang's "spelling" location is the file location: a macro argument's own place
        # in the file, else the place of the macro's expansion. The name is the file's when
        # the text there is the name itself (`BZ_API(name)`), not a macro (`IOMETHODS(...)`
        # making `posixIoFinderImpl` by `##`, an object-like macro standing for the name).
        name, off = spelling(lib, cursor.location)
        if not in_main(name):
            return False
        want = cursor.spelling.lstrip("~")
        ident = ""
        for ch in want:
            if not (ch.isalnum() or ch == "_"):
                break
            ident += ch
        at = text[off:].lstrip(b"~ \t")
        if not at.startswith(ident.encode()):
            return False
        after = at[len(ident) : len(ident) + 1]
        return not (after.isalnum() or after == b"_")

    n = [0, 0, 0, 0]
    defs = []
    seen = set()

    def add(i, kind, cursor):
        key = (i, cursor.hash)
        if key in seen:
            return
        seen.add(key)
        n[i] += 1
        defs.append([kind, cursor.location.line])

    def defined(cursor):
        # libclang does not call a member of a class template that is `= default` or
        # `= delete` a definition; codedb's rules count both, wherever they are.
        if cursor.is_definition():
            return True
        if lang == "c":
            return False
        if cursor.kind in METHOD_KINDS:
            return cursor.is_default_method() or cursor.is_deleted_method()
        toks = [t.spelling for t in cursor.get_tokens()]
        return len(toks) >= 2 and toks[-2] == "=" and toks[-1] in ("default", "delete")

    def unnamed(cursor):
        # An unnamed tag: its location is its keyword, not a name.
        name, off = spelling(lib, cursor.location)
        if not in_main(name):
            return cursor.is_anonymous()
        at = text[off : off + 7]
        for kw in (b"struct", b"union", b"enum", b"class"):
            if at.startswith(kw) and not (at[len(kw) :][:1].isalnum() or at[len(kw) :][:1] == b"_"):
                return True
        return False

    def visit(cursor):
        for c in cursor.get_children():
            k = c.kind
            loc = c.location
            if loc.file is None or not in_main(loc.file.name):
                # Declarations brought by includes are not the file's; macro expansions
                # in the file keep the file as their location and are checked below.
                continue
            if k in CLASS_KINDS and c.is_definition():
                if not unnamed(c) and spelled_here(c):
                    add(0, "class " + c.spelling, c)
            elif k == K.TYPEDEF_DECL:
                u = c.underlying_typedef_type.get_declaration()
                if (
                    u.kind in CLASS_KINDS
                    and u.is_definition()
                    and unnamed(u)
                    and u.extent.start.offset >= c.extent.start.offset
                    and u.extent.end.offset <= c.extent.end.offset
                    and spelled_here(c)
                ):
                    # `typedef struct {...} X, *PX;`: the first name is the class.
                    key = ("typedef", u.hash)
                    if key not in seen:
                        seen.add(key)
                        n[0] += 1
                        defs.append(["class " + c.spelling, c.location.line])
            elif k in METHOD_KINDS and defined(c):
                if spelled_here(c):
                    add(2, "method " + c.spelling, c)
            elif k == K.FUNCTION_TEMPLATE and defined(c):
                if spelled_here(c):
                    if c.semantic_parent is not None and c.semantic_parent.kind in RECORD_PARENTS:
                        add(2, "method " + c.spelling, c)
                    else:
                        add(1, "function " + c.spelling, c)
            elif k == K.FUNCTION_DECL and defined(c):
                if spelled_here(c):
                    add(1, "function " + c.spelling, c)
            elif k == K.INCLUSION_DIRECTIVE:
                n[3] += 1
            # Expressions hold no definition spelled by the rules (a lambda is a value).
            if not (k.is_expression() or k.is_reference() or k.is_attribute()):
                visit(c)

    visit(tu.cursor)

    skipped = []
    f = lib.clang_getFile(tu, main.encode() if isinstance(main, str) else main)
    if f:
        lst = lib.clang_getSkippedRanges(tu, f)
        if lst:
            for i in range(lst.contents.count):
                r = lst.contents.ranges[i]
                skipped.append([r.start.line, r.end.line])
            lib.clang_disposeSourceRangeList(lst)
    return {"counts": n, "skipped": skipped, "defs": sorted(defs, key=lambda d: d[1])}


def main():
    root = sys.argv[1]
    extra = sys.argv[2:]
    lib = setup_lib()
    index = ci.Index.create()
    out = {}
    for line in sys.stdin:
        line = line.rstrip("\n")
        if not line:
            continue
        lang, rel = line.split("\t", 1)
        out[rel] = count_file(lib, index, root, lang, rel, extra)
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
