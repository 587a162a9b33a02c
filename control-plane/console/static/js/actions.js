// Admin actions: confirm, post through the console to the control-plane API, and report what
// happened — for commands, how many of the expected workers acknowledged.
import { post } from "./api.js";
import { askToken, confirmAction, notify } from "./dialogs.js";
import { session, unlock } from "./session.js";

export function describeCommand(verb, result) {
  const expected = result.expected.length;
  let text = `${verb}: acknowledged by ${result.acknowledged} of ${expected} worker${expected === 1 ? "" : "s"}`;
  if (result.missing.length > 0) text += ` (no answer from ${result.missing.join(", ")})`;
  if (result.warnings.length > 0) text += ` — ${result.warnings.join("; ")}`;
  return text;
}

/**
 * Runs one action. `describe` turns the reply into the notice; `refresh` redraws the view.
 * Refused for lack of a session, it says so and offers to unlock.
 */
export async function act({
  endpoint,
  body,
  title,
  message,
  confirmLabel,
  destructive,
  askReason = true,
  describe,
  refresh,
}) {
  const answer = await confirmAction({ title, message, confirmLabel, destructive, askReason });
  if (answer === null) return;
  const request = { ...body };
  if (askReason && answer.reason) request.reason = answer.reason;
  try {
    const reply = await post(`actions/${endpoint}`, request);
    notify(describe(reply));
  } catch (error) {
    const refused = error.status === 401 || error.status === 403;
    notify(
      `${refused ? "Denied" : "Failed"}: ${error.message}${error.hint ? ` — ${error.hint}` : ""}`,
      "error",
    );
    if (error.status === 401 && session.mode === "admin" && (await askToken(unlock)))
      notify("Admin actions unlocked: try the action again", "ok");
  }
  await refresh?.();
}

/** Disabled (with the reason) in a read-only console. */
export function actionButton(label, onclick, { destructive = false } = {}) {
  const button = document.createElement("button");
  button.type = "button";
  button.textContent = label;
  button.className = destructive ? "small danger" : "small";
  if (session.mode === "read-only") {
    button.disabled = true;
    button.title = "this console is read-only";
  } else {
    button.addEventListener("click", onclick);
  }
  return button;
}
