// The status page's only script; it only enhances: "Refresh now" posts /refresh without a
// page reload and swaps in the [data-live] parts of a re-fetched page. Inlined, and allowed by
// the sha256 of this file in the Content-Security-Policy.
(() => {
  const form = document.getElementById("refresh");
  const out = document.getElementById("refresh-outcome");
  const token = document.getElementById("refresh-token");
  const button = form.querySelector("button");
  const count = (n, word) => n + " " + word + (n === 1 ? "" : "s");
  const done = (body) => {
    const accounts = body.accounts || [];
    const failed = accounts.filter((a) => !a.ok).length;
    const how = body.joined ? "Joined the collection already in flight" : "Started a collection";
    const result = failed
      ? count(failed, "collector") + " failed, " + (accounts.length - failed) + " ok"
      : "all " + count(accounts.length, "collector") + " ok";
    return how + "; done: " + result + ".";
  };
  const reload = async () => {
    const response = await fetch("/", {cache: "no-store"});
    if (!response.ok) return;
    const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
    for (const part of document.querySelectorAll("[data-live]")) {
      const replacement = fresh.getElementById(part.id);
      if (replacement) part.replaceWith(document.adoptNode(replacement));
    }
  };
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    button.disabled = true;
    out.textContent = "Collecting…";
    const headers = {};
    if (token && token.value) headers.Authorization = "Bearer " + token.value;
    let text;
    try {
      const response = await fetch(form.action, {method: "POST", headers, cache: "no-store"});
      const body = await response.json().catch(() => ({}));
      if (response.ok) {
        text = done(body);
        await reload().catch(() => {});
      } else if (response.status === 429) {
        const wait = body.retry_after_s ?? response.headers.get("Retry-After");
        text = "Wait " + wait + " s: a refresh ran recently and billing APIs are rate-limited.";
      } else if (response.status === 401) {
        text = token && token.value ? "Token rejected." : "Token required.";
      } else {
        text = "Refresh failed: HTTP " + response.status + ".";
      }
    } catch (error) {
      text = "Could not reach the exporter.";
    }
    out.textContent = text;
    button.disabled = false;
  });
})();
