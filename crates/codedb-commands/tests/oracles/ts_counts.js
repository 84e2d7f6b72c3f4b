// Counts TypeScript, TSX and JavaScript definitions by codedb's rules (README, "What the
// indexer counts") with the TypeScript compiler API: for every .ts .mts .cts .tsx .js .mjs
// .cjs .jsx file under the directory given, {"path": [classes, functions, methods, imports]}
// as JSON on stdout. Needs `typescript` resolvable from NODE_PATH.
//
// classes: named class declarations, class expressions that initialize a variable
//   declared with a plain name, interfaces, enums;
// functions: named function declarations (a run of consecutive same-named ones whose
//   earlier members have no body is one: overloads, `declare function`), and variables
//   declared with a plain name whose initializer is a function or arrow function;
// methods: in a named class declaration or a class expression counted as a class: methods,
//   constructors, accessors, abstract members, properties initialized with a function or
//   arrow function (a run of bodiless same-named members and what follows is one); the
//   method signatures of interfaces (a run of same-named ones is one);
// imports: import declarations, `import x = require("m")`, and calls `require("m")` with
//   one string literal argument.
"use strict";
const ts = require("typescript");
const fs = require("fs");
const path = require("path");

const KINDS = {
  ".ts": ts.ScriptKind.TS, ".mts": ts.ScriptKind.TS, ".cts": ts.ScriptKind.TS,
  ".tsx": ts.ScriptKind.TSX,
  ".js": ts.ScriptKind.JS, ".mjs": ts.ScriptKind.JS, ".cjs": ts.ScriptKind.JS,
  ".jsx": ts.ScriptKind.JSX,
};

function isFunctionValue(e) {
  return e && (ts.isArrowFunction(e) || ts.isFunctionExpression(e));
}

function memberName(m) {
  if (ts.isConstructorDeclaration(m)) return "constructor";
  return m.name ? m.name.getText() : "";
}

// Counts a run of members/statements: `isDef` picks the counted ones, `bodiless` says
// whether one merges into the next same-named one.
function countRuns(nodes, isDef, name, bodiless) {
  let n = 0;
  let prev = null;
  for (const node of nodes) {
    if (!isDef(node)) {
      prev = null;
      continue;
    }
    const nm = name(node);
    if (!(prev && prev.name === nm && prev.bodiless)) n++;
    prev = { name: nm, bodiless: bodiless(node) };
  }
  return n;
}

function classMembers(cls) {
  return countRuns(
    cls.members,
    (m) =>
      ts.isMethodDeclaration(m) || ts.isConstructorDeclaration(m) ||
      ts.isGetAccessorDeclaration(m) || ts.isSetAccessorDeclaration(m) ||
      (ts.isPropertyDeclaration(m) && isFunctionValue(m.initializer)),
    memberName,
    (m) => !ts.isPropertyDeclaration(m) && !m.body,
  );
}

function count(file, text) {
  const kind = KINDS[path.extname(file)];
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, kind);
  const c = [0, 0, 0, 0];
  function statements(list) {
    c[1] += countRuns(
      list,
      (s) => ts.isFunctionDeclaration(s) && !!s.name,
      (s) => s.name.text,
      (s) => !s.body,
    );
  }
  function visit(node) {
    if (ts.isSourceFile(node) || ts.isBlock(node) || ts.isModuleBlock(node)) {
      statements(node.statements);
    } else if (ts.isCaseClause(node) || ts.isDefaultClause(node)) {
      statements(node.statements);
    }
    if (ts.isClassDeclaration(node) && node.name) {
      c[0]++;
      c[2] += classMembers(node);
    } else if (ts.isInterfaceDeclaration(node)) {
      c[0]++;
      c[2] += countRuns(node.members, ts.isMethodSignature, memberName, () => true);
    } else if (ts.isEnumDeclaration(node)) {
      c[0]++;
    } else if (ts.isVariableDeclaration(node) && ts.isIdentifier(node.name) && node.initializer) {
      if (ts.isClassExpression(node.initializer)) {
        c[0]++;
        c[2] += classMembers(node.initializer);
      } else if (isFunctionValue(node.initializer)) {
        c[1]++;
      }
    } else if (ts.isImportDeclaration(node)) {
      c[3]++;
    } else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) {
      c[3]++;
    } else if (
      ts.isCallExpression(node) && ts.isIdentifier(node.expression) &&
      node.expression.text === "require" && node.arguments.length === 1 &&
      ts.isStringLiteral(node.arguments[0])
    ) {
      c[3]++;
    }
    ts.forEachChild(node, visit);
  }
  visit(sf);
  return c;
}

const root = process.argv[2];
const out = {};
(function walk(dir) {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) walk(p);
    else if (KINDS[path.extname(e.name)] !== undefined) {
      out[path.relative(root, p).split(path.sep).join("/")] = count(p, fs.readFileSync(p, "utf8"));
    }
  }
})(root);
process.stdout.write(JSON.stringify(out));
