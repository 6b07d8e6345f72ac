/**
 * Every exit code comes from the one table in src/binder/outcomes.ts: no other source file
 * under src/ sets, returns or exits with a number of its own. Read from the syntax tree, so
 * a number in a string (the hold script's `return 1`) or a comparison with a child
 * process's exit status is not one.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";
import { EXIT_CODES, exitCodeOf } from "../../src/binder/outcomes.js";

const SRC = path.join(import.meta.dirname, "..", "..", "src");
const TABLE = path.join("src", "binder", "outcomes.ts");

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    return entry.isDirectory() ? sourceFiles(full) : entry.name.endsWith(".ts") ? [full] : [];
  });
}

const endsWithExitCode = (node: ts.Node): boolean =>
  (ts.isIdentifier(node) && node.text === "exitCode") ||
  (ts.isPropertyAccessExpression(node) && node.name.text === "exitCode");

/** `file:line: what` for each number used as an exit code in `text`. */
function exitCodeLiterals(file: string, text: string): string[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const found: string[] = [];
  const report = (node: ts.Node, what: string): void => {
    const { line } = source.getLineAndCharacterOfPosition(node.getStart(source));
    found.push(`${file}:${line + 1}: ${what}`);
  };
  const returnsNumber = (fn: ts.SignatureDeclaration | null): boolean =>
    fn?.type !== undefined && /^(?:Promise<)?(?:number|ExitCode)>?$/.test(fn.type.getText(source));
  const visit = (node: ts.Node, fn: ts.SignatureDeclaration | null): void => {
    const inside = ts.isFunctionLike(node) ? node : fn;
    if (ts.isReturnStatement(node) && node.expression !== undefined && ts.isNumericLiteral(node.expression)) {
      if (returnsNumber(fn)) report(node, `return ${node.expression.text}`);
    } else if (ts.isBinaryExpression(node) && ts.isNumericLiteral(node.right)) {
      const op = node.operatorToken.kind;
      const sets = op === ts.SyntaxKind.EqualsToken;
      const defaults = op === ts.SyntaxKind.QuestionQuestionToken || op === ts.SyntaxKind.BarBarToken;
      if ((sets || defaults) && endsWithExitCode(node.left)) report(node, node.getText(source));
    } else if (ts.isPropertyAssignment(node) && ts.isNumericLiteral(node.initializer)) {
      if (node.name.getText(source) === "exitCode") report(node, node.getText(source));
    } else if (ts.isCallExpression(node) && node.arguments[0] !== undefined && ts.isNumericLiteral(node.arguments[0])) {
      const callee = node.expression;
      const name = ts.isPropertyAccessExpression(callee)
        ? callee.name.text
        : ts.isIdentifier(callee)
          ? callee.text
          : "";
      if (name === "exit") report(node, node.getText(source));
    }
    ts.forEachChild(node, (child) => visit(child, inside));
  };
  visit(source, null);
  return found;
}

describe("exit codes", () => {
  it("come from the table in src/binder/outcomes.ts only", () => {
    const byFile = new Map<string, string[]>();
    for (const file of sourceFiles(SRC)) {
      const relative = path.relative(path.dirname(SRC), file);
      if (relative === TABLE) continue;
      const found = exitCodeLiterals(relative, fs.readFileSync(file, "utf8"));
      if (found.length > 0) byFile.set(relative, found);
    }
    expect([...byFile.values()].flat()).toEqual([]);
  });

  it("the check finds each way of writing one", () => {
    const text = [
      "function a(): number { return 1; }",
      "async function b(): Promise<number> { return 2; }",
      "function c(): ExitCode { return 3; }",
      "context.exitCode = 1;",
      "process.exit(process.exitCode ?? 0);",
      "proc.exit(1);",
      "const r = { exitCode: 0 };",
      // Not exit codes: a number in a string, a comparison, a count.
      'const script = "return 1";',
      "if (result.exitCode !== 0) {}",
      "function d(): string { return 'x'.repeat(2); }",
      "const n = items.length || 1;",
    ].join("\n");
    expect(exitCodeLiterals("f.ts", text).map((line) => line.replace(/^f\.ts:\d+: /, ""))).toEqual([
      "return 1",
      "return 2",
      "return 3",
      "context.exitCode = 1",
      "process.exitCode ?? 0",
      "proc.exit(1)",
      "exitCode: 0",
    ]);
  });

  it("each outcome of a command maps to its code in the table", () => {
    const findings = (invalid: boolean, notApplied: string[]) => ({ invalid, notApplied });
    expect(exitCodeOf({ kind: "completed", failed: false })).toBe(EXIT_CODES.ok);
    expect(exitCodeOf({ kind: "completed", failed: true })).toBe(EXIT_CODES.failure);
    expect(exitCodeOf({ kind: "devices", outcomes: [{ status: "bound" }, { status: "released" }] })).toBe(
      EXIT_CODES.ok,
    );
    expect(exitCodeOf({ kind: "devices", outcomes: [{ status: "bound" }, { status: "refused" }] })).toBe(
      EXIT_CODES.failure,
    );
    expect(exitCodeOf({ kind: "claims", findings: findings(true, []), notAppliedFails: true })).toBe(
      EXIT_CODES.failure,
    );
    expect(exitCodeOf({ kind: "claims", findings: findings(false, ["stale"]), notAppliedFails: true })).toBe(
      EXIT_CODES.notApplied,
    );
    expect(exitCodeOf({ kind: "claims", findings: findings(false, ["stale"]), notAppliedFails: false })).toBe(
      EXIT_CODES.ok,
    );
    expect(exitCodeOf({ kind: "usage-error" })).toBe(EXIT_CODES.usage);
    expect(exitCodeOf({ kind: "stopped" })).toBe(EXIT_CODES.failure);
  });
});
