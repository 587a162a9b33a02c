// The confirmation and unlock dialogs, and the notice line that reports what an action did.

const notice = () => document.getElementById("notice");
let noticeTimer;

export function notify(text, kind = "ok") {
  const el = notice();
  el.textContent = text;
  el.className = `notice notice-${kind}`;
  el.hidden = false;
  clearTimeout(noticeTimer);
  noticeTimer = setTimeout(() => {
    el.hidden = true;
  }, 15_000);
}

function part(dialog, name) {
  return dialog.querySelector(`[data-part="${name}"]`);
}

/** Resolves to { reason } when confirmed, null when cancelled. */
export function confirmAction({
  title,
  message,
  confirmLabel = "Confirm",
  destructive = false,
  askReason = true,
}) {
  const dialog = document.getElementById("confirm-dialog");
  part(dialog, "title").textContent = title;
  part(dialog, "message").textContent = message;
  part(dialog, "reason-row").hidden = !askReason;
  part(dialog, "reason").value = "";
  const button = part(dialog, "confirm");
  button.textContent = confirmLabel;
  button.className = destructive ? "danger" : "primary";
  dialog.returnValue = "";
  dialog.showModal();
  return new Promise((resolve) => {
    dialog.addEventListener(
      "close",
      () =>
        resolve(dialog.returnValue === "confirm" ? { reason: part(dialog, "reason").value.trim() } : null),
      { once: true },
    );
  });
}

/** Asks for the token and tries it until it works or the operator cancels; true when unlocked. */
export function askToken(tryToken) {
  const dialog = document.getElementById("unlock-dialog");
  const input = part(dialog, "token");
  const error = part(dialog, "error");
  input.value = "";
  error.textContent = "";
  return new Promise((resolve) => {
    const form = dialog.querySelector("form");
    const onSubmit = async (event) => {
      if (event.submitter?.value !== "unlock") return;
      event.preventDefault();
      try {
        await tryToken(input.value);
        done(true);
      } catch (failure) {
        error.textContent = failure.message;
        input.select();
      }
    };
    const onCancel = () => done(false);
    const done = (unlocked) => {
      form.removeEventListener("submit", onSubmit);
      dialog.removeEventListener("close", onCancel);
      if (dialog.open) dialog.close();
      resolve(unlocked);
    };
    form.addEventListener("submit", onSubmit);
    dialog.addEventListener("close", onCancel);
    dialog.showModal();
    input.focus();
  });
}
