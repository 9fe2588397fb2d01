/** The script of every page (`/assets/ui.js`): each part starts only where its markup is. */
import { startCopyButtons } from "./copy.ts";
import { startEditors } from "./editor.ts";
import { startLive } from "./live.ts";
import { startLogs } from "./logs.ts";

startLive();
startLogs();
startEditors();
startCopyButtons();

// A page that just created something (a token shown once) takes the keyboard and screen reader there.
document.querySelector<HTMLElement>("[data-autofocus]")?.focus();
