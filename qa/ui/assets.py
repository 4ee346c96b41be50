"""The page's CSS and JavaScript (kept in Python so they ship inside the package)."""

from __future__ import annotations

CSS = """
:root { --qa-link: #c2410c; }  /* the accent, dark enough for text (WCAG AA contrast) */
.dark { --qa-link: #fdba74; }
/* Gradio's subdued grey (zinc-400: "- or -", slider ends, "Use via API") is 1.9:1 on white. */
.gradio-container { --body-text-color-subdued: #71717a; }
.dark .gradio-container { --body-text-color-subdued: #bbbbc2; }
#qa-title h1 { font-size: var(--text-xxl); margin: 0; }
#qa-chat .qa-text { margin: 0; line-height: 1.55; }
#qa-chat .qa-q { white-space: pre-wrap; }
.qa-ref {
  display: inline-block; min-width: 1.6em; padding: 0 .25em; margin-left: .1em;
  border-radius: 4px; font-size: .8em; font-weight: 600; line-height: 1.5;
  vertical-align: .15em; text-align: center; text-decoration: none !important;
  color: var(--qa-link) !important; background: var(--color-accent-soft);
  border: 1px solid var(--color-accent); cursor: pointer;
}
.qa-ref:hover, .qa-ref:focus { background: #c2410c; color: #fff !important; }
a.qa-ref.qa-closest-link, a.qa-ref.qa-closest-link:hover {
  display: inline; min-width: 0; margin: 0; padding: 0; border: none; background: none;
  font-size: inherit; font-weight: 600; vertical-align: baseline;
  text-decoration: underline !important; color: var(--qa-link) !important;
}
.qa-flagged {
  background: rgba(245, 158, 11, .18); border-bottom: 2px dotted #d97706;
  border-radius: 3px; cursor: help;
}
.qa-note { margin: .5em 0 0; font-size: .88em; opacity: .9; }
.qa-note-flag, .qa-note-warn { color: #b45309; }
.dark .qa-note-flag, .dark .qa-note-warn { color: #fbbf24; }
.qa-error, #qa-notice .qa-notice { color: #b91c1c; }
.dark .qa-error, .dark #qa-notice .qa-notice { color: #fca5a5; }
#qa-notice .qa-notice { margin: 0; font-weight: 600; }
#qa-notice:not(:has(.qa-notice)) { display: none; }  /* no empty gap */
.qa-abstained .qa-text { font-style: italic; }
.qa-cursor { animation: qa-blink 1s steps(2) infinite; margin-left: 1px; }
.qa-wait { opacity: .7; }
@keyframes qa-blink { 50% { opacity: 0; } }

#qa-sources .qa-sources { font-size: .92em; }
#qa-sources .qa-empty p { opacity: .75; margin: .25em 0; }
#qa-sources .qa-turns { display: flex; gap: .35em; align-items: center; margin-bottom: .6em; }
#qa-sources .qa-turn-btn {
  min-width: 2em; padding: .1em .5em; border-radius: 4px; cursor: pointer;
  border: 1px solid var(--border-color-primary); background: var(--background-fill-secondary);
}
#qa-sources .qa-turn-btn.qa-on {
  background: var(--color-accent); color: #fff; border-color: var(--color-accent);
}
#qa-sources .qa-turn-q { font-weight: 600; margin: 0 0 .6em; }
#qa-sources .qa-turn-q::before { content: "Q: "; opacity: .6; }
#qa-sources ol { list-style: none; padding: 0; margin: 0; }
#qa-sources .qa-cite {
  border: 1px solid var(--border-color-primary); border-radius: 6px;
  padding: .5em .7em; margin: 0 0 .6em; background: var(--background-fill-primary);
  scroll-margin: 12px; transition: box-shadow .3s, border-color .3s;
}
#qa-sources .qa-cite.qa-active {
  border-color: var(--color-accent); box-shadow: 0 0 0 3px var(--color-accent-soft);
}
#qa-sources .qa-cite-head { display: flex; flex-wrap: wrap; gap: .5em; align-items: baseline; }
#qa-sources .qa-num { font-weight: 700; color: var(--qa-link); }
#qa-sources .qa-file { font-family: var(--font-mono); font-size: .9em; word-break: break-all; }
#qa-sources .qa-meta { font-size: .82em; opacity: .7; margin-left: auto; }
#qa-sources .qa-ctx {
  margin: .4em 0 0 !important; padding: 0 0 0 .7em;
  border-left: 3px solid var(--border-color-primary);
  white-space: pre-wrap; overflow-wrap: anywhere; line-height: 1.5; opacity: .95;
}
#qa-sources mark, .qa-ctx mark {
  background: #fde68a; color: #1f2937; padding: 0 .1em; border-radius: 2px;
}
#qa-sources .qa-none { font-style: italic; }
#qa-sources .qa-sub { font-weight: 600; margin: .6em 0 .3em; }

#qa-files table { border-collapse: collapse; width: auto; min-width: 50%; margin: .4em 0; }
#qa-files th, #qa-files td {
  text-align: left; padding: .3em .8em; border: none;
  border-bottom: 1px solid var(--border-color-primary);
}
#qa-files td.qa-n, #qa-files th:not(:first-child) { text-align: right; }
#qa-files .qa-sync { font-weight: 600; }
#qa-resync { white-space: nowrap; }
.qa-upload { list-style: none; padding: 0; }
.qa-upload .qa-bad { color: #b91c1c; }
.dark .qa-upload .qa-bad { color: #fca5a5; }
.qa-upload .qa-ok { color: #15803d; }
.qa-hidden { display: none !important; }
#qa-sources .qa-inferred {
  font-size: .75em; padding: 0 6px; border-radius: 6px; border: 1px dashed currentColor;
}
.qa-unsupported ul { margin: 4px 0 0 1.2em; }
#qa-sources .qa-view-btn {
  font-size: 0.8em; padding: 1px 8px; border-radius: 6px; cursor: pointer;
  border: 1px solid var(--border-color-primary);
  background: var(--button-secondary-background-fill);
}
#qa-viewer .qa-view { margin: 0; }
#qa-viewer .qa-view-head { font-weight: 600; margin: 6px 0; }
#qa-viewer .qa-view { overflow: auto; max-height: 900px; }
#qa-viewer .qa-page {
  max-width: 100%; border: 1px solid var(--border-color-primary); cursor: zoom-in;
}
#qa-viewer .qa-page.qa-zoom { max-width: none; cursor: zoom-out; }
#qa-viewer .qa-doc-text {
  white-space: pre-wrap; max-height: 480px; overflow-y: auto; padding: 8px;
  border: 1px solid var(--border-color-primary); border-radius: 6px; font-size: 0.92em;
}
#qa-viewer mark, #qa-viewer .qa-doc-text mark { background: #fde047; color: inherit; }
#qa-viewer .qa-view-note { color: var(--body-text-color-subdued); }
.dark .qa-upload .qa-ok { color: #86efac; }
"""

# Clicking a [n] marker (in the chat) or an answer number (in the sources panel) shows that
# answer's sources and scrolls to the cited passage, entirely in the browser.
JS = r"""
() => {
  if (window.__qaRefs) return;
  window.__qaRefs = true;
  function show(turn, n) {
    const panel = document.getElementById("qa-sources");
    if (!panel || !turn) return;
    panel.querySelectorAll("section.qa-turn").forEach((s) => {
      s.hidden = s.dataset.turn !== String(turn);
    });
    panel.querySelectorAll(".qa-turn-btn").forEach((b) => {
      b.classList.toggle("qa-on", b.dataset.turn === String(turn));
    });
    panel.querySelectorAll(".qa-cite.qa-active").forEach((li) => li.classList.remove("qa-active"));
    const target = document.getElementById(n ? `cite-${turn}-${n}` : `turn-${turn}`);
    if (!target) return;
    if (n) target.classList.add("qa-active");
    target.scrollIntoView({ block: "nearest", behavior: "smooth" });
  }
  // A rendered page fits the panel; a click shows it at full size (and back).
  document.addEventListener("click", (event) => {
    const el = event.target instanceof Element ? event.target : null;
    const img = el ? el.closest("#qa-viewer img.qa-page") : null;
    if (img) img.classList.toggle("qa-zoom");
  });
  // "View in document": hand "<turn>:<n>" to the server through the hidden box and button.
  document.addEventListener("click", (event) => {
    const btn = event.target instanceof Element ? event.target.closest("button.qa-view-btn") : null;
    if (!btn) return;
    const box = document.querySelector("#qa-view-request textarea, #qa-view-request input");
    const go = document.querySelector("#qa-view-go");
    if (!box || !go) return;
    event.preventDefault();
    box.value = `${btn.dataset.turn}:${btn.dataset.n}`;
    box.dispatchEvent(new Event("input", { bubbles: true }));
    setTimeout(() => {
      go.click();
      document.getElementById("qa-viewer")?.scrollIntoView({ block: "start", behavior: "smooth" });
    }, 50);
  }, true);
  document.addEventListener("click", (event) => {
    const el = event.target instanceof Element
      ? event.target.closest("a.qa-ref, button.qa-turn-btn") : null;
    if (!el) return;
    // The chat's sanitizer drops data-* attributes, so anchors carry their target in href.
    const m = /#(?:cite-(\d+)-(\d+)|turn-(\d+))$/.exec(el.getAttribute("href") || "");
    const turn = m ? m[1] || m[3] : el.dataset.turn;
    const n = m ? m[2] : undefined;
    event.preventDefault();
    event.stopPropagation();
    show(turn, n);
  }, true);
  // Gradio labels each chat message "<role>'s message: <content>", the content being our
  // HTML; screen readers would read the markup. Relabel with the message's plain text.
  const PREFIX = /^([^<]{1,40}'s message: )([\s\S]*)$/;
  function relabel(el) {
    const label = el.getAttribute("aria-label") || "";
    const m = PREFIX.exec(label);
    if (!m || label === el.__qaLabel || !/<[a-zA-Z\/!]/.test(m[2])) return;
    const doc = new DOMParser().parseFromString(m[2], "text/html");  // inert: nothing loads
    el.__qaLabel = m[1] + doc.body.textContent.replace(/\s+/g, " ").trim();
    el.setAttribute("aria-label", el.__qaLabel);
  }
  new MutationObserver((records) => {
    for (const r of records) {
      if (r.type === "attributes") relabel(r.target);
      else r.addedNodes.forEach((node) => {
        if (!(node instanceof Element)) return;
        relabel(node);
        node.querySelectorAll("[aria-label]").forEach(relabel);
      });
    }
  }).observe(document.body, {
    subtree: true, childList: true, attributes: true, attributeFilter: ["aria-label"],
  });
  document.querySelectorAll("[aria-label]").forEach(relabel);
}
"""
