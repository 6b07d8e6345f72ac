// Preloaded (node -r) into the bundle when the man page is generated: with no terminal width
// yargs prints every help row on one line, so the rows can be read back exactly instead of
// guessing where a wrapped line was broken (yargs breaks some words in the middle).
// runCli passes process.stdout.columns to yargs' wrap(), and wrap(0) means "do not wrap".
process.stdout.columns = 0;
