/**
 * Marathon's groups, implied by app ids as in Marathon 1.x: every proper prefix of an app id is
 * a group (`/prod/web/api` is in `/prod/web`, which is in `/prod`, which is in the root `/`).
 * DCX stores no groups of its own, so a group exists exactly while some app lies inside it; the
 * root always exists. Pure: ids in, trees out.
 */

export const ROOT_GROUP = "/";

/** The version of a group with no apps (Marathon's empty root group is at the epoch). */
export const EMPTY_GROUP_VERSION = new Date(0).toISOString();

/**
 * Whether an app (or group) id lies inside a group, at any depth. Whole segments only:
 * `/prod/web` is in `/prod`, `/production` is not, and a group is not inside itself.
 */
export function inGroup(id: string, groupId: string): boolean {
  if (groupId === ROOT_GROUP) return id !== ROOT_GROUP;
  return id.startsWith(`${groupId}/`);
}

/** The group an id is directly in: `/prod/web` → `/prod`, `/web` → `/`. */
export function parentGroup(id: string): string {
  const cut = id.lastIndexOf("/");
  return cut <= 0 ? ROOT_GROUP : id.slice(0, cut);
}

/** One group: its own apps, its direct subgroups, and the newest version of anything inside it. */
export interface GroupNode<A> {
  id: string;
  apps: A[];
  groups: GroupNode<A>[];
  version: string;
}

/**
 * The group `groupId` nested as Marathon shows it, built from the apps lying inside it.
 * Undefined when no app lies inside a group other than the root. Apps and subgroups are in id
 * order; a group's version is the newest version of an app inside it (at any depth).
 */
export function groupTree<A extends { id: string; version: string }>(groupId: string, apps: readonly A[]): GroupNode<A> | undefined {
  const inside = apps.filter((a) => inGroup(a.id, groupId));
  if (inside.length === 0 && groupId !== ROOT_GROUP) return undefined;
  const nodes = new Map<string, GroupNode<A>>();
  // Creates a group node on first use and links it into its parent, up to `groupId`.
  const node = (id: string): GroupNode<A> => {
    const known = nodes.get(id);
    if (known) return known;
    const created: GroupNode<A> = { id, apps: [], groups: [], version: EMPTY_GROUP_VERSION };
    nodes.set(id, created);
    if (id !== groupId && id !== ROOT_GROUP) node(parentGroup(id)).groups.push(created);
    return created;
  };
  const top = node(groupId);
  for (const app of inside) {
    node(parentGroup(app.id)).apps.push(app);
    for (let g = parentGroup(app.id); ; g = parentGroup(g)) {
      const n = node(g);
      // ISO timestamps of one format order as strings.
      if (app.version > n.version) n.version = app.version;
      if (g === groupId || g === ROOT_GROUP) break;
    }
  }
  sortTree(top);
  return top;
}

function sortTree<A extends { id: string }>(group: GroupNode<A>): void {
  group.apps.sort((a, b) => compare(a.id, b.id));
  group.groups.sort((a, b) => compare(a.id, b.id));
  for (const g of group.groups) sortTree(g);
}

const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** Every group in a tree, depth first in id order, the tree's own group first. */
export function flattenGroups<A>(group: GroupNode<A>): GroupNode<A>[] {
  return [group, ...group.groups.flatMap((g) => flattenGroups(g))];
}
