// The bash completion file, made from what `vfio-autobind completion` prints (yargs writes
// it). Two changes: the function asks the installed command by its full path, so completion
// works in a shell whose PATH lacks /usr/sbin; and yargs' "append me to ~/.bashrc" advice
// goes, since bash-completion loads this file by itself.

const ASK = /\$\(vfio-autobind --get-yargs-completions /g;

/** @param {string} script  yargs' script  @param {string} command  installed path */
export function bashCompletion(script, command) {
  const asks = script.match(ASK)?.length ?? 0;
  if (asks !== 1) {
    throw new Error(
      `expected one 'vfio-autobind --get-yargs-completions' call in the completion script, found ${asks}; has yargs changed it?`,
    );
  }
  const body = script
    .replace(ASK, `$(${command} --get-yargs-completions `)
    .split("\n")
    .filter((line) => !/^#\s*(Installation:|or vfio-autobind completion)/.test(line))
    // and the empty comment lines that framed that advice
    .filter((line, i, lines) => !(line === "#" && lines[i - 1] === "#"));
  const header = [
    `# bash completion for ${command}, made at package build time from`,
    "# 'vfio-autobind completion'; bash-completion loads it when you first press Tab.",
  ];
  return `${[...header, ...body].join("\n").trimEnd()}\n`;
}
