import { inGroup } from "./group-tree.ts";

/**
 * Marathon's `dependencies`: an app starts only once what it depends on is deployed. A
 * dependency names an app or a group (then every app inside it). DCX deploys each app on its
 * own, so the order is kept by the scheduling decision rather than by a plan's steps: an app
 * whose own deployment is in progress does nothing while an app it depends on has a deployment
 * in progress. Pure: ids in, answers out.
 */

/** The part of an app this module reads. */
export interface Dependent {
  id: string;
  dependencies?: readonly string[] | undefined;
}

/** Whether the dependency `dep` (an app or group id) covers the app `appId`. */
export function covers(dep: string, appId: string): boolean {
  return appId === dep || inGroup(appId, dep);
}

/**
 * Whether an app must wait for its dependencies: some app it depends on (other than itself)
 * is among `deploying`, the apps whose deployments are still in progress.
 */
export function waitsForDependencies(app: Dependent, deploying: readonly string[]): boolean {
  const deps = app.dependencies ?? [];
  if (deps.length === 0) return false;
  return deploying.some((id) => id !== app.id && deps.some((dep) => covers(dep, id)));
}

/** A dependency that cannot be honoured: `index` is its place in the app's `dependencies`. */
export interface DependencyProblem {
  appId: string;
  index: number;
  error: string;
}

/** Each app's dependencies before a change, by app id. */
export type PreviousDependencies = ReadonlyMap<string, readonly string[] | undefined>;

/**
 * What is wrong with the dependencies of the apps in `checked`, among all the apps as they
 * will be: a new dependency must name an existing app or group (one the app had before may
 * name an app removed since: the app can still be changed), and none may lead back to the app
 * (a cycle would leave every app in it waiting for the others forever).
 */
export function dependencyProblems(apps: readonly Dependent[], checked: ReadonlySet<string>, previous: PreviousDependencies = new Map()): DependencyProblem[] {
  const ids = apps.map((a) => a.id);
  const byId = new Map(apps.map((a) => [a.id, a]));
  const targets = (dep: string) => ids.filter((id) => covers(dep, id));
  const problems: DependencyProblem[] = [];
  for (const app of apps) {
    if (!checked.has(app.id)) continue;
    (app.dependencies ?? []).forEach((dep, index) => {
      const direct = targets(dep);
      const had = previous.get(app.id)?.includes(dep) ?? false;
      if (direct.length === 0 && !had) problems.push({ appId: app.id, index, error: `dependency ${dep} names no app or group` });
      else if (reaches(direct, app.id, byId, targets))
        problems.push({ appId: app.id, index, error: `dependency ${dep} leads back to ${app.id}: dependencies may not form a cycle` });
    });
  }
  return problems;
}

/** Whether `goal` is reachable from `start` along dependencies (depth first, each app once). */
function reaches(start: string[], goal: string, byId: ReadonlyMap<string, Dependent>, targets: (dep: string) => string[]): boolean {
  const seen = new Set<string>();
  const stack = [...start];
  while (stack.length > 0) {
    const id = stack.pop() as string;
    if (id === goal) return true;
    if (seen.has(id)) continue;
    seen.add(id);
    for (const dep of byId.get(id)?.dependencies ?? []) stack.push(...targets(dep));
  }
  return false;
}
