import type { AccountsDb } from "../accounts/db.ts";
import type { ClusterSummary, User } from "../accounts/users.ts";

/** What every route of the Worker sees: its bindings and the values middleware resolved. */
export interface AppEnv {
  Bindings: Env;
  Variables: {
    db: AccountsDb;
    user: User;
    /** Hash of the API token that authenticated this request (for logout). */
    tokenHash: string;
    /** Id of that token (the session), named in audit rows as the actor's. */
    tokenId: string;
    /** Set on cluster-scoped routes once membership is checked. */
    cluster: ClusterSummary;
    /** On the scheduler API: the framework's principal (a service account's, or the user's email). */
    principal: string;
  };
}
