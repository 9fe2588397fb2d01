/** The zone of DC/OS's `.directory` names (`agentip`, `autoip`…), answered by every cluster. */
export const DIRECTORY_ZONE = "thisdcos.directory";
/** Mesos-DNS's default domain. */
export const DEFAULT_ZONE = "mesos";

const LABEL = /^[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?$/;

/** Lowercases a domain name and drops a trailing dot, so `Mesos.` and `mesos` compare equal. */
export function canonicalName(name: string): string {
  return name.toLowerCase().replace(/\.$/, "");
}

/** Validates and canonicalizes one zone name; throws an Error saying what is wrong. */
export function parseZone(text: string): string {
  const zone = canonicalName(text.trim());
  if (zone === "" || zone.length > 253 || !zone.split(".").every((label) => LABEL.test(label))) {
    throw new Error(`'${text}' is not a domain name (letters, digits, - and _ in dot-separated labels)`);
  }
  return zone;
}

/** True when `name` is one of `zones` or below one of them (`web.marathon.mesos` is in `mesos`). */
export function inZones(name: string, zones: readonly string[]): boolean {
  const canonical = canonicalName(name);
  return zones.some((zone) => canonical === zone || canonical.endsWith(`.${zone}`));
}
