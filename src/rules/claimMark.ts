/**
 * The mark a claim's rules set (ENV{VFIO_AUTOBIND_CLAIM}), also written by the hold script.
 */
import type { Origin } from "../config/claimConfig.js";
import { where } from "./ruleVocabulary.js";

// The mark is only a trace for a reader of `udevadm info` (the helper looks for any value),
// so it names the claim in a form that is a safe value whatever the file is called.
const SAFE_MARK = /^[A-Za-z0-9_.:/+-]+$/;
const MARK_MAX = 256;

export function claimMark(origin: Origin): string {
  const text = where(origin);
  const mark = SAFE_MARK.test(text)
    ? text
    : Array.from(Buffer.from(text, "utf8"), (byte) => {
        const c = String.fromCharCode(byte);
        return /[A-Za-z0-9.:/+-]/.test(c) ? c : `_${byte.toString(16).padStart(2, "0")}`;
      }).join("");
  return mark.length > MARK_MAX
    ? `${mark.slice(0, MARK_MAX - 4 - String(origin.line).length)}...:${origin.line}`
    : mark;
}
