/**
 * The JSON editor of the deploy forms: a plain textarea (it works without scripts). Scripts
 * add a syntax check while typing, and make each validation error a link that selects the
 * line of the field it is about.
 */

/** Selects line `line` (1-based) of a textarea and scrolls it into view. */
function selectLine(area: HTMLTextAreaElement, line: number): void {
  const lines = area.value.split("\n");
  let start = 0;
  for (let i = 0; i < line - 1 && i < lines.length; i++) start += (lines[i]?.length ?? 0) + 1;
  const end = start + (lines[line - 1]?.length ?? 0);
  area.focus();
  area.setSelectionRange(start, end);
  const lineHeight = area.scrollHeight / Math.max(lines.length, 1);
  area.scrollTop = Math.max(0, (line - 3) * lineHeight);
}

/** `Unexpected token } in JSON at position 42` → the line of position 42, when the message has one. */
function syntaxProblem(text: string): string | undefined {
  try {
    JSON.parse(text);
    return undefined;
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    const at = /position (\d+)/.exec(message);
    if (!at) return message;
    const line = text.slice(0, Number(at[1])).split("\n").length;
    return `${message} (line ${line})`;
  }
}

export function startEditors(): void {
  for (const area of document.querySelectorAll<HTMLTextAreaElement>("textarea[data-editor]")) {
    const status = document.getElementById(`${area.id}-syntax`);
    if (status) {
      const check = () => {
        const problem = syntaxProblem(area.value);
        status.textContent = problem ? `JSON syntax: ${problem}` : "JSON syntax: valid.";
        status.classList.toggle("syntax-bad", problem !== undefined);
      };
      area.addEventListener("input", check);
      check();
    }
  }
  for (const link of document.querySelectorAll<HTMLAnchorElement>("a[data-line]")) {
    link.addEventListener("click", (e) => {
      const area = document.getElementById(link.hash.slice(1));
      if (!(area instanceof HTMLTextAreaElement)) return;
      e.preventDefault();
      selectLine(area, Number(link.dataset.line));
    });
  }
}
