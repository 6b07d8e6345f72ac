// Lint rules for the whole repository: typescript-eslint's recommended, type-aware set for
// the TypeScript sources (a floating promise in a root daemon is a silent failure), the
// plain recommended set for the build and packaging scripts, and nothing that prettier
// already decides (eslint-config-prettier turns those rules off).
import js from "@eslint/js";
import prettier from "eslint-config-prettier";
import globals from "globals";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["dist/**", "node_modules/**", "test/vm/fixtures/**"] },
  js.configs.recommended,
  {
    files: ["**/*.ts"],
    extends: [...tseslint.configs.recommendedTypeChecked],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      // Unused names are errors, except deliberate placeholders.
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      // Template literals here build messages from numbers and nullable names on purpose.
      "@typescript-eslint/restrict-template-expressions": "off",
    },
  },
  {
    // Tests read the tool's --json output back with JSON.parse and assert on its fields.
    files: ["test/**/*.ts", "bench/**/*.ts"],
    rules: {
      "@typescript-eslint/no-unsafe-assignment": "off",
      "@typescript-eslint/no-unsafe-member-access": "off",
      "@typescript-eslint/no-unsafe-call": "off",
      "@typescript-eslint/no-unsafe-argument": "off",
    },
  },
  {
    files: ["**/*.mjs", "**/*.cjs", "**/*.js"],
    languageOptions: { globals: { ...globals.node } },
  },
  prettier,
);
