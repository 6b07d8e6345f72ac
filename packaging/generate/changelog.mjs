// The changelog of the packages, one entry per build of this version: Debian's changelog.gz
// and rpm's %changelog say the same thing. The version and the date come from package.json
// and the source date, so there is nothing here to keep in step by hand.

function entryLines(info) {
  // Short lines: Debian's changelog wants at most 80 columns, with the "  * " in front.
  return [`${info.name} ${info.version}.`, `See /usr/share/doc/${info.name}/README.md for what it does.`];
}

/** debian/changelog format (deb-changelog(5)), for /usr/share/doc/<name>/changelog.gz. */
export function debianChangelog(info, date) {
  const items = entryLines(info).map((line, i) => (i === 0 ? `  * ${line}` : `    ${line}`));
  return [
    `${info.name} (${info.version}) unstable; urgency=medium`,
    "",
    ...items,
    "",
    ` -- ${info.maintainer}  ${rfc2822(date)}`,
    "",
  ].join("\n");
}

/** The body of the spec's %changelog. */
export function rpmChangelog(info, date) {
  const day = `${WEEKDAYS[date.getUTCDay()]} ${MONTHS[date.getUTCMonth()]} ${date.getUTCDate()} ${date.getUTCFullYear()}`;
  return [
    `* ${day} ${info.maintainer} - ${info.version}-${info.rpmRelease}`,
    ...entryLines(info).map((line) => `- ${line}`),
  ].join("\n");
}

const WEEKDAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

function rfc2822(date) {
  const two = (n) => String(n).padStart(2, "0");
  const time = `${two(date.getUTCHours())}:${two(date.getUTCMinutes())}:${two(date.getUTCSeconds())}`;
  return `${WEEKDAYS[date.getUTCDay()]}, ${two(date.getUTCDate())} ${MONTHS[date.getUTCMonth()]} ${date.getUTCFullYear()} ${time} +0000`;
}
