/**
 * What a bind, a release or a command came to: one discriminated union each, built only by
 * the helpers below, and the one home of exit codes: the table of them, which outcomes are
 * failures, and what exit code a run ends with. Every command, and the udev helper, reads
 * these; none of them decides its exit code on its own.
 */
import type { SafetyVerdict } from "../policy/safetyVerdict.js";
import type { AttemptResult, RestoreResult } from "./bindSteps.js";

export interface PlannedCandidate {
  readonly rank: number;
  readonly module: string;
  /** The alias that put it here; null when named with --driver. */
  readonly pattern: string | null;
  /** Known when the module is loaded (or was, at planning time). */
  readonly driver: string | null;
}

interface BindCommon {
  readonly address: string;
  /** Every candidate, in rank order. */
  readonly candidates: readonly PlannedCandidate[];
  /** The line an admin reads (and the journal gets). */
  readonly message: string;
}

export type BindOutcome =
  | (BindCommon & {
      readonly status: "bound";
      readonly module: string;
      readonly driver: string;
      readonly rank: number;
      readonly attempts: readonly AttemptResult[];
      readonly verdict: SafetyVerdict;
    })
  | (BindCommon & {
      readonly status: "already-bound";
      readonly module: string;
      readonly driver: string;
      /** Null when the driver it is on is no longer among the candidates. */
      readonly rank: number | null;
    })
  /** --dry-run: what would be written, in order. */
  | (BindCommon & { readonly status: "planned"; readonly verdict: SafetyVerdict; readonly plan: readonly string[] })
  /** A refusal rule said no (policy/): nothing was written. A dry run still shows its plan. */
  | (BindCommon & {
      readonly status: "refused";
      readonly verdict: SafetyVerdict | null;
      readonly plan: readonly string[];
    })
  /** No candidate bound; `restore` says where the device was left (null: nothing was tried). */
  | (BindCommon & {
      readonly status: "failed";
      readonly attempts: readonly AttemptResult[];
      readonly verdict: SafetyVerdict | null;
      readonly restore: RestoreResult | null;
    })
  /** The device was hot-removed during the sequence. */
  | (BindCommon & { readonly status: "removed"; readonly attempts: readonly AttemptResult[] });

export type BindStatus = BindOutcome["status"];

export interface ReleaseOutcome {
  readonly address: string;
  readonly status: "released" | "planned" | "not-ours" | "refused" | "failed" | "removed";
  /** The driver the device is on afterwards. */
  readonly driver: string | null;
  /** --dry-run: the steps release would take, in order (the restore steps, described). */
  readonly plan?: readonly string[];
  readonly message: string;
}

export type ReleaseStatus = ReleaseOutcome["status"];

/** Which outcomes are a success. The one place that decides it, for every command and the udev helper. */
const SUCCEEDED: Readonly<Record<BindStatus | ReleaseStatus, boolean>> = {
  bound: true,
  "already-bound": true,
  planned: true,
  released: true,
  refused: false,
  failed: false,
  removed: false,
  "not-ours": false,
};

export function succeeded(outcome: { readonly status: BindStatus | ReleaseStatus }): boolean {
  return SUCCEEDED[outcome.status];
}

/** Every exit status vfio-autobind ends with: the one table. */
export const EXIT_CODES = {
  ok: 0,
  /** Something failed at run time; for check and status: the claims are invalid. */
  failure: 1,
  /** The command line is wrong: nothing ran. */
  usage: 2,
  /** check --applied and status: the claims are valid, but the machine does not follow them yet. */
  notApplied: 3,
} as const;

export type ExitCode = (typeof EXIT_CODES)[keyof typeof EXIT_CODES];

/** The exit code of a run that produced these outcomes: ok when every one succeeded, else failure. */
export function exitCodeFor(outcomes: Iterable<{ readonly status: BindStatus | ReleaseStatus }>): ExitCode {
  for (const outcome of outcomes) if (!succeeded(outcome)) return EXIT_CODES.failure;
  return EXIT_CODES.ok;
}

/**
 * What `check` and `status` found: whether the claims are valid (the config, on this
 * machine, and the installed rules), and what is not applied yet (each a line naming the
 * command that does it).
 */
export interface ClaimsFindings {
  readonly invalid: boolean;
  readonly notApplied: readonly string[];
}

/** What a command came to. Every command's handler returns one; exitCodeOf turns it into the exit code. */
export type CommandOutcome =
  /** It ran to the end; `failed`: some of what it did or read failed (and said so). */
  | { readonly kind: "completed"; readonly failed: boolean }
  /** What happened to each device it bound or released. */
  | { readonly kind: "devices"; readonly outcomes: readonly { readonly status: BindStatus | ReleaseStatus }[] }
  /**
   * What `check` or `status` found about the claims; `notAppliedFails`: whether claims
   * not applied yet count against the machine (`check --applied`, `status`).
   */
  | { readonly kind: "claims"; readonly findings: ClaimsFindings; readonly notAppliedFails: boolean }
  /** The command line was wrong (UsageError): nothing ran. */
  | { readonly kind: "usage-error" }
  /** An error stopped the command before it finished (RuntimeFailure, or one nothing expected). */
  | { readonly kind: "stopped" };

export const completed = (failed = false): CommandOutcome => ({ kind: "completed", failed });

export const devicesOutcome = (
  outcomes: readonly { readonly status: BindStatus | ReleaseStatus }[],
): CommandOutcome => ({
  kind: "devices",
  outcomes,
});

export const claimsOutcome = (findings: ClaimsFindings, notAppliedFails: boolean): CommandOutcome => ({
  kind: "claims",
  findings,
  notAppliedFails,
});

/**
 * The exit code of a command's outcome. For `check` and `status`: failure for invalid
 * claims, notApplied for valid ones not applied yet when that counts, else ok.
 */
export function exitCodeOf(outcome: CommandOutcome): ExitCode {
  switch (outcome.kind) {
    case "completed":
      return outcome.failed ? EXIT_CODES.failure : EXIT_CODES.ok;
    case "devices":
      return exitCodeFor(outcome.outcomes);
    case "claims":
      if (outcome.findings.invalid) return EXIT_CODES.failure;
      return outcome.notAppliedFails && outcome.findings.notApplied.length > 0 ? EXIT_CODES.notApplied : EXIT_CODES.ok;
    case "usage-error":
      return EXIT_CODES.usage;
    case "stopped":
      return EXIT_CODES.failure;
  }
}

/** The exit codes as --help and the man page list them. */
export const EXIT_STATUS_HELP =
  `Exit status: ${EXIT_CODES.ok} success, ${EXIT_CODES.failure} failure (for check and status: the claims are invalid), ` +
  `${EXIT_CODES.usage} usage error, ${EXIT_CODES.notApplied} the claims are valid but not applied yet (check --applied, status).`;

/** A refusal: nothing was written. */
export function refusedOutcome(
  address: string,
  reason: string,
  fields: { candidates?: readonly PlannedCandidate[]; verdict?: SafetyVerdict | null; plan?: readonly string[] } = {},
): BindOutcome {
  const dryRun = fields.plan !== undefined && fields.plan.length > 0 ? " (dry run, nothing written)" : "";
  return {
    status: "refused",
    address,
    candidates: fields.candidates ?? [],
    verdict: fields.verdict ?? null,
    plan: fields.plan ?? [],
    message: `${address}: refused: ${reason}${dryRun}`,
  };
}

/** The attempts made, whatever the outcome (none for a refusal or a dry run). */
export function attemptsOf(outcome: BindOutcome): readonly AttemptResult[] {
  return "attempts" in outcome ? outcome.attempts : [];
}

/** The lines --dry-run prints (empty unless it was a dry run). */
export function planOf(outcome: BindOutcome): readonly string[] {
  return "plan" in outcome ? outcome.plan : [];
}

/** `bind --json`: every field of every outcome, null where that outcome has none, so scripts see one shape. */
export function bindOutcomeJson(outcome: BindOutcome): Record<string, unknown> {
  const field = <K extends string>(key: K): unknown => (key in outcome ? (outcome as Record<K, unknown>)[key] : null);
  return {
    address: outcome.address,
    status: outcome.status,
    module: field("module"),
    driver: field("driver"),
    rank: field("rank"),
    candidates: outcome.candidates,
    attempts: attemptsOf(outcome),
    verdict: field("verdict"),
    restore: field("restore"),
    plan: planOf(outcome),
    message: outcome.message,
  };
}
