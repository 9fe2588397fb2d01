/** The script of every page (`/assets/ui.js`): each part starts only where its markup is. */
import { startCopyButtons } from "./copy.ts";
import { startEditors } from "./editor.ts";
import { startLive } from "./live.ts";
import { startLogs } from "./logs.ts";

startLive();
startLogs();
startEditors();
startCopyButtons();
